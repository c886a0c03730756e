"""Retrieval datasets read the public annotation files (COCO, Flickr30k, MSRVTT)."""

import json
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

import blip
from blip.datasets import AnnotationError, COCORetrieval, Flickr30kRetrieval, MSRVTTRetrieval
from blip.registry import DATASETS, TRANSFORMS
from coco_data import write_coco_karpathy

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    return write_coco_karpathy(tmp_path_factory.mktemp('coco'), images_per_split=3)


def test_coco_karpathy_test_split_one_item_per_image(coco_root):
    dataset = COCORetrieval('annotations/coco_karpathy_test.json', data_root=str(coco_root), test_mode=True)
    records = json.loads((coco_root / 'annotations/coco_karpathy_test.json').read_text())
    assert len(dataset) == dataset.num_images == 3 and dataset.num_texts == 9
    item = dataset.get_data_info(1)
    assert item['img_path'] == str(coco_root / records[1]['image'])
    assert item['text'] == records[1]['caption']
    assert item['image_id'] == 1 and item['gt_text_id'] == [3, 4, 5] and item['gt_image_id'] == [1, 1, 1]


def test_coco_karpathy_train_split_one_item_per_caption(coco_root):
    dataset = COCORetrieval('annotations/coco_karpathy_train.json', data_root=str(coco_root))
    records = json.loads((coco_root / 'annotations/coco_karpathy_train.json').read_text())
    assert len(dataset) == len(records) == 9 and dataset.num_images == 3
    items = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [item['text'] for item in items] == [r['caption'] for r in records]
    # Captions of one image share its number: the ITC loss treats them as positives.
    assert [item['image_id'] for item in items] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert all(item['is_matched'] for item in items)


def test_coco_format_files_of_mmpretrain(tmp_path):
    content = {
        'images': [
            {'id': 7, 'coco_url': 'http://images.cocodataset.org/val2014/COCO_val2014_000000000007.jpg'},
            {'id': 3, 'file_name': 'val2014/b.jpg'},
        ],
        'annotations': [
            {'image_id': 3, 'caption': 'b one', 'id': 0},
            {'image_id': 7, 'caption': 'a one', 'id': 1},
            {'image_id': 7, 'caption': 'a two', 'id': 2},
        ],
    }
    (tmp_path / 'ann.json').write_text(json.dumps(content))
    dataset = COCORetrieval('ann.json', data_root=str(tmp_path), test_mode=True)
    assert [dataset.get_data_info(i)['text'] for i in range(2)] == [['a one', 'a two'], ['b one']]
    assert dataset.get_data_info(0)['img_path'] == str(tmp_path / 'val2014/COCO_val2014_000000000007.jpg')
    assert dataset.get_data_info(1)['gt_text_id'] == [2]


def karpathy_flickr(path: Path) -> Path:
    images = [
        {
            'filename': f'{n}.jpg',
            'split': split,
            'sentences': [{'raw': f'{split} {n} caption {k}'} for k in range(2)],
        }
        for n, split in enumerate(['train', 'test', 'val', 'test'])
    ]
    path.write_text(json.dumps({'images': images}))
    return path


def test_flickr30k_karpathy_file_and_blip_files(tmp_path):
    karpathy_flickr(tmp_path / 'dataset_flickr30k.json')
    test = Flickr30kRetrieval(
        'dataset_flickr30k.json', split='test', data_root=str(tmp_path), data_prefix='images', test_mode=True
    )
    assert [test.get_data_info(i)['img_path'] for i in range(len(test))] == [
        str(tmp_path / 'images/1.jpg'),
        str(tmp_path / 'images/3.jpg'),
    ]
    assert test.get_data_info(1)['text'] == ['test 3 caption 0', 'test 3 caption 1']
    assert test.get_data_info(1)['gt_text_id'] == [2, 3]

    # BLIP / LAVIS: one file per split, records as in the COCO Karpathy files.
    blip_test = [
        {'image': 'flickr30k-images/1.jpg', 'caption': ['x', 'y']},
        {'image': 'flickr30k-images/3.jpg', 'caption': ['z']},
    ]
    (tmp_path / 'flickr30k_test.json').write_text(json.dumps(blip_test))
    lavis = Flickr30kRetrieval('flickr30k_test.json', data_root=str(tmp_path), test_mode=True)
    assert lavis.num_images == 2 and lavis.num_texts == 3
    assert lavis.get_data_info(0)['img_path'] == str(tmp_path / 'flickr30k-images/1.jpg')

    with pytest.raises(AnnotationError, match='give split'):
        Flickr30kRetrieval('dataset_flickr30k.json', data_root=str(tmp_path))
    with pytest.raises(AnnotationError, match='leave split out'):
        Flickr30kRetrieval('flickr30k_test.json', split='test', data_root=str(tmp_path))
    with pytest.raises(ValueError, match='split must be one of'):
        Flickr30kRetrieval('dataset_flickr30k.json', split='testing', data_root=str(tmp_path))


def test_msrvtt_blip_jsonl_and_lavis_json(tmp_path):
    lines = [
        {'clip_name': 'video9770', 'caption': 'a man is singing'},
        {'clip_name': 'video7020', 'caption': 'a cat'},
    ]
    (tmp_path / 'msrvtt_test.jsonl').write_text('\n'.join(json.dumps(line) for line in lines) + '\n')
    dataset = MSRVTTRetrieval('msrvtt_test.jsonl', data_root=str(tmp_path), data_prefix='videos')
    assert len(dataset) == 2 and dataset.num_texts == 2
    item = dataset.get_data_info(1)
    assert item['video_path'] == str(tmp_path / 'videos/video7020.mp4')
    assert item['text'] == ['a cat'] and item['gt_text_id'] == [1] and item['gt_image_id'] == [1]

    (tmp_path / 'ret_test.json').write_text(json.dumps([{'video': 'video1.mp4', 'caption': ['a', 'b']}]))
    lavis = MSRVTTRetrieval('ret_test.json', data_root=str(tmp_path), data_prefix='videos')
    assert lavis.get_data_info(0)['video_path'] == str(tmp_path / 'videos/video1.mp4')
    assert lavis.num_texts == 2


def test_bad_annotations_are_named(tmp_path):
    (tmp_path / 'bad.jsonl').write_text('{"clip_name": "v1", "caption": "ok"}\n{not json}\n')
    with pytest.raises(AnnotationError, match='line 2'):
        MSRVTTRetrieval('bad.jsonl', data_root=str(tmp_path))
    (tmp_path / 'nocap.json').write_text(json.dumps([{'image': 'a.jpg'}]))
    with pytest.raises(AnnotationError, match="record 0 has no 'caption'"):
        COCORetrieval('nocap.json', data_root=str(tmp_path))
    (tmp_path / 'novideo.json').write_text(json.dumps([{'caption': 'x'}]))
    with pytest.raises(AnnotationError, match="record 0 .*has no 'video'"):
        MSRVTTRetrieval('novideo.json', data_root=str(tmp_path))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        COCORetrieval('missing.json', data_root=str(tmp_path))


def test_config_pipelines_pack_what_the_model_and_loop_read(coco_root):
    cfg = Config.fromfile(str(REPO / 'tests/data/configs/tiny_retrieval.py'))
    with DefaultScope.overwrite_default_scope('blip'):
        test_set = DATASETS.build(dict(cfg.test_dataloader.dataset, data_root=str(coco_root)))
        train_set = DATASETS.build(dict(cfg.train_dataloader.dataset, data_root=str(coco_root)))
        assert isinstance(test_set.pipeline, Compose) and TRANSFORMS.get('RandAugment') is not None
    sample = test_set[0]
    assert sample['inputs'].shape == (3, 64, 64)
    packed = sample['data_samples']
    assert packed.text == ['a red square', 'a red square on white', 'one red box']
    assert packed.gt_text_id == [0, 1, 2] and packed.image_id == 0
    torch.manual_seed(0)
    train_sample = train_set[4]  # RandAugment and the crop run under numpy 2
    assert train_sample['inputs'].shape == (3, 64, 64) and train_sample['data_samples'].is_matched
    model = blip.get_model(REPO / 'tests/data/configs/tiny_retrieval.py')
    data = model.data_preprocessor(pseudo_collate([test_set[0], test_set[1]]))
    with torch.no_grad():
        feats = model.extract_feat(data['images'], data['data_samples'])
    assert feats['text_feat'].shape == (6, 16) and feats['image_feat'].shape == (2, 16)
