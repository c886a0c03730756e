"""Tests of the caption datasets (COCO Karpathy, NoCaps, Flickr30k) and their configs."""

import json
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.datasets import COCOCaption as MmpretrainCOCOCaption
from mmpretrain.datasets import Flickr30kCaption as MmpretrainFlickr30kCaption
from PIL import Image

import blip  # noqa: F401  (registers the blip scope)
from blip.datasets import AnnotationError, COCOCaption, Flickr30kCaption, NoCaps
from blip.registry import DATASETS

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs' / 'blip' / '_base_' / 'datasets'

COCO_TRAIN = [
    dict(
        image='train2014/COCO_train2014_000000057870.jpg',
        caption='A restaurant with chairs.',
        image_id='coco_57870',
    ),
    dict(image='train2014/COCO_train2014_000000057870.jpg', caption='A dining room.', image_id='coco_57870'),
    dict(
        image='val2014/COCO_val2014_000000384029.jpg', caption='A man holding a kite.', image_id='coco_384029'
    ),
]
COCO_VAL = [
    dict(image='val2014/COCO_val2014_000000391895.jpg', caption=[f'a man on a bike {n}' for n in range(5)]),
    dict(
        image='val2014/COCO_val2014_000000522418.jpg', caption=[f'a woman cutting cake {n}' for n in range(5)]
    ),
]
NOCAPS_VAL = dict(
    info={},
    images=[
        dict(id=0, file_name='0013ea2087020901.jpg', open_images_id='0013ea2087020901', domain='in-domain'),
        dict(id=1, file_name='00223d8e0d3a5d6c.jpg', open_images_id='00223d8e0d3a5d6c', domain='out-domain'),
    ],
    annotations=[dict(image_id=i % 2, id=i, caption=f'caption {i}') for i in range(20)],
)
NOCAPS_TEST = dict(
    info={},
    images=[
        dict(id=4500, file_name='0003d84e0165d630.jpg', domain='near-domain'),
        dict(id=4501, file_name='b.jpg'),
    ],
)
FLICKR = dict(
    images=[
        dict(
            filename=f'{n}.jpg',
            imgid=n,
            split=split,
            sentids=[3 * n, 3 * n + 1, 3 * n + 2],
            sentences=[
                dict(raw=f'Sentence {k} of image {n}.', tokens=[], imgid=n, sentid=3 * n + k)
                for k in range(3)
            ],
        )
        for n, split in enumerate(['train', 'train', 'val', 'test', 'test'])
    ],
    dataset='flickr30k',
)


def write_json(folder: Path, name: str, content) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(content))
    return path


def test_coco_train_one_item_per_caption(tmp_path):
    write_json(tmp_path, 'annotations/train.json', COCO_TRAIN)
    dataset = COCOCaption(ann_file='annotations/train.json', data_root=str(tmp_path))
    assert len(dataset) == 3
    item = dataset[0]
    assert item['image_id'] == 57870
    assert item['gt_caption'] == 'A restaurant with chairs.'
    assert item['img_path'] == str(tmp_path / 'train2014/COCO_train2014_000000057870.jpg')


def test_coco_val_items_carry_id_and_all_captions(tmp_path):
    write_json(tmp_path, 'annotations/val.json', COCO_VAL)
    dataset = DATASETS.build(
        dict(type='COCOCaption', data_root=str(tmp_path), ann_file='annotations/val.json')
    )
    assert isinstance(dataset, COCOCaption)
    assert [item['image_id'] for item in dataset] == [391895, 522418]
    assert dataset[1]['gt_caption'] == COCO_VAL[1]['caption']


def test_coco_ground_truth_file_follows_data_root_into_the_metainfo(tmp_path):
    write_json(tmp_path, 'annotations/val.json', COCO_VAL)
    dataset = COCOCaption(
        ann_file='annotations/val.json', data_root=str(tmp_path), gt_file='annotations/gt.json'
    )
    assert dataset.metainfo['gt_file'] == str(tmp_path / 'annotations/gt.json')
    absolute = str(tmp_path / 'elsewhere/gt.json')
    dataset = COCOCaption(ann_file='annotations/val.json', data_root=str(tmp_path), gt_file=absolute)
    assert dataset.metainfo['gt_file'] == absolute
    assert COCOCaption(ann_file='annotations/val.json', data_root=str(tmp_path)).metainfo['gt_file'] is None


@pytest.mark.parametrize('records', [COCO_TRAIN, COCO_VAL])
def test_coco_items_match_mmpretrain(tmp_path, records):
    write_json(tmp_path, 'split.json', records)
    ours = COCOCaption(ann_file='split.json', data_root=str(tmp_path))
    theirs = MmpretrainCOCOCaption(ann_file='split.json', data_root=str(tmp_path))
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs):
        assert mine['img_path'] == reference['img_path']
        assert mine['gt_caption'] == reference['gt_caption']
        assert mine['image_id'] == int(reference['image_id'])  # mmpretrain: '000000391895'


def test_nocaps_val_one_item_per_image(tmp_path):
    write_json(tmp_path, 'annotations/nocaps_val.json', NOCAPS_VAL)
    dataset = DATASETS.build(
        dict(
            type='NoCaps',
            data_root=str(tmp_path),
            ann_file='annotations/nocaps_val.json',
            data_prefix=dict(img_path='images'),
        )
    )
    assert isinstance(dataset, NoCaps)
    assert len(dataset) == 2
    first = dataset[0]
    assert first['image_id'] == 0
    assert first['img_path'] == str(tmp_path / 'images' / '0013ea2087020901.jpg')
    assert first['domain'] == 'in-domain'
    assert first['gt_caption'] == [f'caption {i}' for i in range(0, 20, 2)]


def test_nocaps_test_split_has_no_captions(tmp_path):
    write_json(tmp_path, 'nocaps_test.json', NOCAPS_TEST)
    dataset = NoCaps(ann_file='nocaps_test.json', data_root=str(tmp_path))
    assert [item['image_id'] for item in dataset] == [4500, 4501]
    assert all('gt_caption' not in item for item in dataset)
    assert dataset[0]['domain'] == 'near-domain' and 'domain' not in dataset[1]


def test_flickr30k_train_one_item_per_caption(tmp_path):
    write_json(tmp_path, 'annotations/dataset_flickr30k.json', FLICKR)
    dataset = Flickr30kCaption(
        ann_file='annotations/dataset_flickr30k.json',
        split='train',
        data_root=str(tmp_path),
        data_prefix='images',
    )
    assert len(dataset) == 6
    item = dataset[4]
    assert (item['image_id'], item['gt_caption']) == (1, 'Sentence 1 of image 1.')
    assert item['img_path'] == str(tmp_path / 'images' / '1.jpg')


@pytest.mark.parametrize('split, image_ids', [('val', [2]), ('test', [3, 4])])
def test_flickr30k_eval_splits_one_item_per_image(tmp_path, split, image_ids):
    write_json(tmp_path, 'dataset_flickr30k.json', FLICKR)
    dataset = DATASETS.build(
        dict(
            type='Flickr30kCaption',
            data_root=str(tmp_path),
            ann_file='dataset_flickr30k.json',
            data_prefix=dict(img_path='images'),
            split=split,
        )
    )
    assert [item['image_id'] for item in dataset] == image_ids
    assert dataset[0]['gt_caption'] == [f'Sentence {k} of image {image_ids[0]}.' for k in range(3)]


def test_flickr30k_train_matches_mmpretrain(tmp_path):
    write_json(tmp_path, 'dataset_flickr30k.json', FLICKR)
    common = dict(
        data_root=str(tmp_path), ann_file='dataset_flickr30k.json', data_prefix='images', split='train'
    )
    ours, theirs = Flickr30kCaption(**common), MmpretrainFlickr30kCaption(**common)
    assert [dict(item) for item in ours] == [dict(item) for item in theirs]


def test_flickr30k_rejects_unknown_split(tmp_path):
    with pytest.raises(ValueError, match='restval'):
        Flickr30kCaption(ann_file='x.json', split='restval', data_root=str(tmp_path))


def build(kind: str, tmp_path: Path, name: str):
    arguments = dict(ann_file=name, data_root=str(tmp_path))
    if kind == 'Flickr30kCaption':
        arguments['split'] = 'test'
    return DATASETS.build(dict(type=kind, **arguments))


@pytest.mark.parametrize('kind', ['COCOCaption', 'NoCaps', 'Flickr30kCaption'])
def test_missing_annotation_file_is_named(tmp_path, kind):
    with pytest.raises(FileNotFoundError, match='annotation file not found') as info:
        build(kind, tmp_path, 'annotations/absent.json')
    assert str(tmp_path / 'annotations' / 'absent.json') in str(info.value)


@pytest.mark.parametrize('kind', ['COCOCaption', 'NoCaps', 'Flickr30kCaption'])
def test_invalid_json_is_named(tmp_path, kind):
    (tmp_path / 'broken.json').write_text('{"images": [')
    with pytest.raises(AnnotationError, match='not valid JSON') as info:
        build(kind, tmp_path, 'broken.json')
    assert str(tmp_path / 'broken.json') in str(info.value)


@pytest.mark.parametrize(
    'kind, content, key',
    [
        ('COCOCaption', [dict(image='a.jpg', caption='x'), dict(caption='y')], 'image'),
        ('COCOCaption', [dict(image='a.jpg')], 'caption'),
        ('COCOCaption', dict(images=[]), None),
        ('NoCaps', dict(annotations=[]), 'images'),
        ('NoCaps', dict(images=[dict(id=1)]), 'file_name'),
        ('NoCaps', dict(images=[dict(id=1, file_name='a.jpg')], annotations=[dict(image_id=1)]), 'caption'),
        ('Flickr30kCaption', dict(images=[dict(filename='a.jpg', imgid=0, split='test')]), 'sentences'),
        ('Flickr30kCaption', dict(images=[dict(imgid=0, split='test', sentences=[])]), 'filename'),
        ('Flickr30kCaption', dict(images=[dict(filename='a', imgid=0, split='test', sentences=[{}])]), 'raw'),
    ],
)
def test_malformed_annotations_name_key_and_file(tmp_path, kind, content, key):
    write_json(tmp_path, 'ann.json', content)
    with pytest.raises(AnnotationError) as info:
        build(kind, tmp_path, 'ann.json')
    message = str(info.value)
    assert str(tmp_path / 'ann.json') in message
    if key is not None:
        assert f"'{key}'" in message


def test_nocaps_image_without_caption_is_an_error(tmp_path):
    content = dict(images=[dict(id=1, file_name='a.jpg'), dict(id=2, file_name='b.jpg')])
    content['annotations'] = [dict(image_id=1, caption='x')]
    write_json(tmp_path, 'ann.json', content)
    with pytest.raises(AnnotationError, match='image 2 has no caption'):
        NoCaps(ann_file='ann.json', data_root=str(tmp_path))


def load_config(name: str) -> Config:
    return Config.fromfile(str(CONFIG_DIR / f'{name}.py'))


@pytest.mark.parametrize('name', ['coco_caption', 'nocaps', 'flickr30k_caption'])
def test_configs_share_one_data_root_and_valid_workers(name):
    config = load_config(name)
    assert 'default_scope' not in config
    assert config.data_preprocessor.type == 'BlipDataPreprocessor'
    for split in ('train', 'val', 'test'):
        loader = config.get(f'{split}_dataloader')
        if loader is None:
            continue
        assert loader.dataset.data_root == config.data_root
        assert not loader.get('persistent_workers') or loader.num_workers > 0
        assert loader.sampler.shuffle == (split == 'train')


def test_coco_config_tests_on_the_karpathy_test_split():
    config = load_config('coco_caption')
    for split in ('val', 'test'):
        dataset = config[f'{split}_dataloader'].dataset
        assert dataset.ann_file == f'annotations/coco_karpathy_{split}.json'
        # The ground truth is the dataset's, relative to its data_root; the metric holds no path.
        assert dataset.gt_file == f'annotations/coco_karpathy_{split}_gt.json'
        assert config[f'{split}_evaluator'] == dict(type='CaptionMetric')


def test_flickr30k_config_uses_karpathy_splits_and_sample_ground_truth():
    config = load_config('flickr30k_caption')
    splits = [config[f'{s}_dataloader'].dataset.split for s in ('train', 'val', 'test')]
    assert splits == ['train', 'val', 'test']
    assert (
        config.test_evaluator == dict(type='CaptionMetric')
        and 'gt_file' not in config.test_dataloader.dataset
    )
    assert 'gt_caption' in config.test_pipeline[-1].algorithm_keys


@pytest.mark.parametrize('name', ['coco_caption', 'nocaps', 'flickr30k_caption'])
def test_config_test_pipeline_runs_on_a_dataset(tmp_path, name):
    """Build each config's test dataset on a tiny copy of its file layout."""
    config = load_config(name)
    dataset_cfg = config.test_dataloader.dataset
    root = tmp_path / 'root'
    if name == 'coco_caption':
        write_json(root, dataset_cfg.ann_file, COCO_VAL[:1])
        image = root / 'val2014' / 'COCO_val2014_000000391895.jpg'
    elif name == 'nocaps':
        write_json(root, dataset_cfg.ann_file, NOCAPS_VAL)
        image = root / 'images' / '0013ea2087020901.jpg'
    else:
        write_json(root, dataset_cfg.ann_file, FLICKR)
        image = root / 'images' / '3.jpg'
    image.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((30, 40, 3), 90, np.uint8)).save(image)
    with DefaultScope.overwrite_default_scope('blip'):
        dataset = DATASETS.build(dict(dataset_cfg, data_root=str(root)))
        packed = dataset[0]
    assert tuple(packed['inputs'].shape) == (3, 384, 384)
    sample = packed['data_samples']
    assert sample.image_id == dataset.get_data_info(0)['image_id']
    if name != 'coco_caption':
        assert sample.gt_caption == dataset.get_data_info(0)['gt_caption']
