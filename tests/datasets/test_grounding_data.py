"""RefCOCO/+/g data, grounding augmentations, the box head's loss and start for training
from scratch, the grounding metric, inference and drawing."""

import json
import pickle
from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from PIL import Image

import blip
from blip.datasets import AnnotationError, RandomBoxCrop, RandomColorJitter, TranslatePad
from blip.evaluation.grounding_metric import GroundingMetric, aligned_box_iou
from blip.registry import DATASETS
from tiny_models import randomize

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_refcoco.py'
# Each image: a white object (the referred box, xywh) on black.
IMAGES = {1: ((60, 80), (10, 20, 30, 25)), 2: ((72, 48), (20, 30, 20, 30)), 3: ((50, 50), (5, 5, 20, 35))}


def write_refcoco(root: Path) -> Path:
    """COCO train2014 images, ``refcoco/{instances.json,refs(unc).p}`` and
    ``refcocog/{instances.json,refs(umd).p}`` in the refer API's formats."""
    (root / 'train2014').mkdir(parents=True)
    images, annotations = [], []
    for image_id, ((height, width), (x, y, w, h)) in IMAGES.items():
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        pixels[y : y + h, x : x + w] = 255
        name = f'COCO_train2014_{image_id:012d}.jpg'
        Image.fromarray(pixels).save(root / 'train2014' / name, quality=95)
        images.append({'id': image_id, 'file_name': name, 'height': height, 'width': width})
        annotations.append(
            {'id': 100 + image_id, 'image_id': image_id, 'bbox': [x, y, w, h], 'category_id': 1}
        )
    instances = json.dumps({'images': images, 'annotations': annotations, 'categories': [{'id': 1}]})

    def ref(ref_id, image_id, split, sentences):
        return {
            'ref_id': ref_id,
            'ann_id': 100 + image_id,
            'image_id': image_id,
            'split': split,
            'sentences': [{'sent': s, 'raw': s.upper(), 'tokens': s.split()} for s in sentences],
        }

    splits = {
        'refcoco': ('refs(unc).p', ['train', 'val', 'testA', 'testB']),
        'refcocog': ('refs(umd).p', ['train', 'val', 'test']),
    }
    for folder, (refs_name, names) in splits.items():
        (root / folder).mkdir()
        (root / folder / 'instances.json').write_text(instances)
        refs = [ref(0, 1, 'train', ['white box', 'the bright thing']), ref(1, 2, 'train', ['tall white box'])]
        refs += [ref(2 + i, 1 + i % 3, split, [f'{split} box']) for i, split in enumerate(names[1:])]
        (root / folder / refs_name).write_bytes(pickle.dumps(refs, protocol=2))
    return root


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_refcoco(tmp_path_factory.mktemp('coco'))


@pytest.fixture(scope='module')
def config(data_root):
    cfg = Config.fromfile(str(TINY_CONFIG))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
    return cfg


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize(blip.get_model(TINY_CONFIG), std=0.2)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_refcoco.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture(scope='module')
def model(checkpoint):
    return blip.get_model(TINY_CONFIG, pretrained=str(checkpoint))


def build_dataset(cfg):
    with DefaultScope.overwrite_default_scope('blip'):
        return DATASETS.build(cfg)


def object_box(image_id):
    x, y, w, h = IMAGES[image_id][1]
    return np.array([[x, y, x + w, y + h]], dtype=np.float32)


def test_dataset_one_item_per_expression_with_xyxy_boxes(config, data_root):
    train = build_dataset(config.train_dataloader.dataset.copy() | dict(pipeline=[]))
    assert [item['text'] for item in train] == ['white box', 'the bright thing', 'tall white box']
    first = train[0]
    assert first['img_path'] == str(data_root / 'train2014/COCO_train2014_000000000001.jpg')
    np.testing.assert_array_equal(first['gt_bboxes'], object_box(1))
    assert first['gt_bboxes'].dtype == np.float32 and (first['image_id'], first['ann_id']) == (1, 101)
    testb = build_dataset(config.test_dataloader.dataset.copy() | dict(split='testB', pipeline=[]))
    assert [item['text'] for item in testb] == ['testB box']


def test_refcocog_config_reads_the_umd_test_split(data_root):
    cfg = Config.fromfile(str(REPO / 'configs/blip/blip-base_refcocog.py'))
    dataset = build_dataset(cfg.test_dataloader.dataset.copy() | dict(data_root=str(data_root), pipeline=[]))
    assert [item['text'] for item in dataset] == ['test box']


def test_unknown_split_lists_the_splits_of_the_file(config):
    with pytest.raises(
        ValueError, match=r"split 'test' is not in .*refs\(unc\)\.p; its splits: \['testA', 'testB'"
    ):
        build_dataset(config.test_dataloader.dataset.copy() | dict(split='test'))


def test_missing_annotation_is_named(tmp_path, config, data_root):
    refs = pickle.loads((data_root / 'refcoco/refs(unc).p').read_bytes())
    refs[1]['ann_id'] = 999
    (tmp_path / 'refs.p').write_bytes(pickle.dumps(refs))
    cfg = config.train_dataloader.dataset.copy() | dict(split_file=str(tmp_path / 'refs.p'), pipeline=[])
    with pytest.raises(AnnotationError, match=r'refs.p, ref 1: annotation 999 is not in .*instances.json'):
        build_dataset(cfg)


def test_refs_pickle_that_loads_a_class_is_refused(tmp_path, config):
    (tmp_path / 'refs.p').write_bytes(pickle.dumps([OrderedDict(split='train')]))
    cfg = config.train_dataloader.dataset.copy() | dict(split_file=str(tmp_path / 'refs.p'), pipeline=[])
    with pytest.raises(AnnotationError, match='refusing to load collections.OrderedDict'):
        build_dataset(cfg)


def white_object(img: np.ndarray, boxes: np.ndarray) -> tuple[float, float]:
    """Mean brightness inside the (first) box and outside a 2-pixel margin around it."""
    x0, y0, x1, y1 = np.round(boxes[0]).astype(int)
    gray = img.astype(np.float32).mean(axis=2)
    outside = np.ones_like(gray, dtype=bool)
    outside[max(y0 - 2, 0) : y1 + 2, max(x0 - 2, 0) : x1 + 2] = False
    return gray[y0:y1, x0:x1].mean(), gray[outside].mean()


def object_image():
    img = np.zeros((60, 80, 3), dtype=np.uint8)
    img[20:45, 10:40] = 255
    return img, object_box(1)


def test_translate_pad_accepts_an_image_of_the_padded_size():
    # mmpretrain's RandomTranslatePad crashes here (np.random.randint(0, 0)).
    img, boxes = object_image()
    square = np.zeros((64, 64, 3), dtype=np.uint8)
    results = TranslatePad(size=64)(dict(img=square, gt_bboxes=boxes.copy()))
    assert results['img'].shape == (64, 64, 3)
    np.testing.assert_array_equal(results['gt_bboxes'], boxes)


def test_translate_pad_moves_the_box_with_the_image():
    np.random.seed(1)
    img, boxes = object_image()
    for _ in range(5):
        results = TranslatePad(size=96)(dict(img=img.copy(), gt_bboxes=boxes.copy()))
        assert results['img'].shape == (96, 96, 3) and results['img_shape'] == (96, 96)
        inside, outside = white_object(results['img'], results['gt_bboxes'])
        assert inside == 255 and outside == 0
    centred = TranslatePad(size=96, random_offset=False)(dict(img=img.copy(), gt_bboxes=boxes.copy()))
    np.testing.assert_array_equal(centred['gt_bboxes'], boxes + np.array([8, 18, 8, 18], dtype=np.float32))
    with pytest.raises(ValueError, match='larger than 32'):
        TranslatePad(size=32)(dict(img=img))


def test_random_box_crop_keeps_the_object_inside_its_moved_box():
    np.random.seed(0)
    img, boxes = object_image()
    shapes = set()
    for _ in range(10):
        results = RandomBoxCrop(min_size=(0.8, 0.8))(dict(img=img.copy(), gt_bboxes=boxes.copy()))
        height, width = results['img'].shape[:2]
        shapes.add((height, width))
        assert 48 <= height <= 60 and 64 <= width <= 80 and results['img_shape'] == (height, width)
        box = results['gt_bboxes'][0]
        assert 0 <= box[0] < box[2] <= width and 0 <= box[1] < box[3] <= height
        inside, outside = white_object(results['img'], results['gt_bboxes'])
        assert inside == 255 and outside == 0
    assert len(shapes) > 1


def test_color_jitter_with_hue_runs_on_uint8_images_under_numpy_2():
    torch.manual_seed(0)
    np.random.seed(0)
    img = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    out = RandomColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)(dict(img=img.copy()))[
        'img'
    ]
    assert out.shape == img.shape and out.dtype == np.uint8 and not np.array_equal(out, img)
    untouched = RandomColorJitter(hue=0.1, prob=0.0)(dict(img=img.copy()))['img']
    np.testing.assert_array_equal(untouched, img)


def test_train_pipeline_keeps_the_box_on_the_object_and_trains(config, checkpoint):
    np.random.seed(0)
    torch.manual_seed(0)
    dataset = build_dataset(config.train_dataloader.dataset)
    for index in list(range(len(dataset))) * 4:
        item = dataset[index]  # each access draws new augmentations
        sample, img = item['data_samples'], item['inputs'].permute(1, 2, 0).numpy()
        assert img.shape == (64, 64, 3) and sample.img_shape == (64, 64)
        inside, outside = white_object(img, sample.gt_bboxes)
        assert inside > 140 and outside < 40, (index, inside, outside)
    model = blip.get_model(TINY_CONFIG, pretrained=str(checkpoint)).train()
    decoder_weight = model.head.decoder.bert.embeddings.position_embeddings.weight
    before = decoder_weight.detach().clone()
    log = model.train_step(
        pseudo_collate([dataset[0], dataset[2]]), OptimWrapper(torch.optim.SGD(model.parameters(), lr=1.0))
    )
    assert set(log) == {'loss', 'loss_seq', 'loss_seq_init', 'box_l1', 'box_giou'}
    assert torch.isfinite(log['loss']) and not torch.equal(decoder_weight, before)


def test_aligned_box_iou_by_hand():
    boxes = torch.tensor(
        [[0, 0, 10, 10], [0, 0, 10, 10], [3, 3, 3, 8], [2, 2, 2, 2], [5, 5, 1, 1]], dtype=torch.float
    )
    others = torch.tensor(
        [[5, 5, 15, 15], [0, 0, 10, 10], [0, 0, 10, 10], [2, 2, 2, 2], [0, 0, 10, 10]]
    ).float()
    iou = aligned_box_iou(boxes, others)
    torch.testing.assert_close(iou, torch.tensor([25 / 175, 1.0, 0.0, 0.0, 0.0]))


def test_metric_in_percent_and_degenerate_boxes_are_misses():
    metric = GroundingMetric()
    predictions = [
        dict(pred_bboxes=torch.tensor([[0.0, 0, 10, 10]]), gt_bboxes=torch.tensor([[5.0, 5, 15, 15]])),
        dict(pred_bboxes=torch.tensor([[0.0, 0, 10, 10]]), gt_bboxes=np.array([[0, 0, 10, 10]], np.float32)),
        dict(pred_bboxes=torch.tensor([[1.0, 1, 9, 10]]), gt_bboxes=torch.tensor([[0.0, 0, 10, 10]])),
        dict(pred_bboxes=torch.tensor([[3.0, 3, 3, 3]]), gt_bboxes=torch.tensor([[3.0, 3, 3, 3]])),
    ]
    metric.process(None, predictions)
    results = metric.evaluate(4)
    expected_miou = 100 * (25 / 175 + 1 + 72 / 100 + 0) / 4
    assert results == {
        'grounding/accuracy': pytest.approx(50.0),
        'grounding/miou': pytest.approx(expected_miou),
    }
    with pytest.raises(KeyError, match='has no gt_bboxes'):
        GroundingMetric().process(None, [dict(pred_bboxes=torch.zeros(1, 4))])


def test_test_pipeline_boxes_come_back_in_original_pixels(config, model):
    dataset = build_dataset(config.val_dataloader.dataset)
    items = [dataset[i] for i in range(len(dataset))]
    batch = pseudo_collate(items)
    with torch.no_grad():
        predictions = model.test_step(batch)
        images = model.data_preprocessor(batch)['images']
        memory, mask = model.encode(images, [item['data_samples'].text for item in items])
        normalized = model.head.predict(memory, mask)
    for prediction, box, raw in zip(predictions, normalized, dataset.data_list):
        height, width = cv2.imread(raw['img_path']).shape[:2]
        expected = box * torch.tensor([width, height, width, height])
        torch.testing.assert_close(prediction.pred_bboxes, expected[None], rtol=1e-5, atol=1e-4)
        torch.testing.assert_close(
            prediction.gt_bboxes, torch.from_numpy(raw['gt_bboxes']), rtol=1e-5, atol=1e-4
        )
    metric = GroundingMetric()
    metric.process(batch, [p.to_dict() for p in predictions])
    assert set(metric.evaluate(len(predictions))) == {'grounding/accuracy', 'grounding/miou'}


def test_inference_returns_the_box_and_draws_it(model, data_root, tmp_path):
    path = str(data_root / 'train2014/COCO_train2014_000000000002.jpg')
    out = tmp_path / 'drawn.png'
    result = blip.inference_model(model, path, 'the tall white box', out=str(out))
    (box,) = result['pred_bboxes']
    assert set(result) == {'pred_bboxes'} and len(box) == 4
    assert 0 <= box[0] <= box[2] <= 48 and 0 <= box[1] <= box[3] <= 72
    # The same as the model's own prediction for that image.
    with DefaultScope.overwrite_default_scope('blip'):
        from blip.registry import TRANSFORMS

        pipeline = [TRANSFORMS.build(t) for t in model._config.test_dataloader.dataset.pipeline]
    item = dict(img_path=path, text='the tall white box')
    for transform in pipeline:
        item = transform(item)
    with torch.no_grad():
        expected = model.test_step(pseudo_collate([item]))[0].pred_bboxes
    assert box == pytest.approx(expected[0].tolist())
    drawing = cv2.imread(str(out))
    assert drawing.shape == (576, 384, 3)  # enlarged 8 times, so the label is legible
    green = (drawing[..., 1] > 150) & (drawing[..., 0] < 80) & (drawing[..., 2] < 80)
    assert green.any()
    pil = blip.inference_model(model, Image.open(path), 'the tall white box')
    assert pil['pred_bboxes'][0] == pytest.approx(box)
    several = blip.inference_model(
        model, [path, path], ['the tall white box', 'a box'], out=str(tmp_path / 'many')
    )
    assert len(several) == 2 and sorted(p.name for p in (tmp_path / 'many').iterdir()) == [
        '0_COCO_train2014_000000000002.png',
        '1_COCO_train2014_000000000002.png',
    ]


def test_infer_tool_prints_the_box_and_saves_the_drawing(checkpoint, data_root, tmp_path, capsys):
    from blip.cli import infer

    path = str(data_root / 'train2014/COCO_train2014_000000000001.jpg')
    out = tmp_path / 'drawn.jpg'
    argv = [
        str(TINY_CONFIG),
        path,
        '--checkpoint',
        str(checkpoint),
        '--text',
        'the white box',
        '--out',
        str(out),
    ]
    (result,) = infer.main(argv)
    assert capsys.readouterr().out.strip() == f'{path}: {json.dumps(result)}'
    assert cv2.imread(str(out)).shape == (288, 384, 3)  # 80 x 60, enlarged


def test_items_equal_those_of_mmpretrains_refcoco_dataset(config):
    from mmpretrain.datasets import RefCOCO as MMPretrainRefCOCO

    ours = build_dataset(config.val_dataloader.dataset.copy() | dict(pipeline=[]))
    arguments = {
        k: config.val_dataloader.dataset[k] for k in ('data_root', 'ann_file', 'split_file', 'split')
    }
    reference = MMPretrainRefCOCO(data_prefix='train2014', **arguments)
    assert len(ours) == len(reference) > 0
    for mine, theirs in zip(ours, reference):
        for key in ('img_path', 'image_id', 'ann_id', 'text'):
            assert mine[key] == theirs[key], key
        np.testing.assert_array_equal(mine['gt_bboxes'], theirs['gt_bboxes'])


def test_loss_over_the_bins_equals_the_masked_vocabulary_loss():
    torch.manual_seed(0)
    head = randomize(blip.get_model(TINY_CONFIG), std=0.2).head.eval()  # no dropout
    memory, mask = torch.randn(2, 20, 64), torch.ones(2, 20, dtype=torch.long)
    boxes = torch.tensor([[0.5, 0.4, 0.3, 0.2], [0.25, 0.75, 0.5, 0.1]])
    targets = head.box_tokens(boxes)
    tokens = torch.cat([head.prefix_ids.view(1, 1).expand(2, 1), targets], dim=1)
    vocabulary = head.box_logits(tokens, memory, mask)
    bins = slice(head.bin_start_id, head.bin_start_id + head.num_bins + 1)
    torch.testing.assert_close(head.bin_logits(tokens, memory, mask), vocabulary[..., bins])
    # mmpretrain's loss: cross-entropy over the whole masked vocabulary.
    reference = torch.nn.functional.cross_entropy(vocabulary[:, :-1].flatten(0, 1), targets.flatten())
    reference.backward()
    expected = {n: p.grad.clone() for n, p in head.named_parameters() if p.grad is not None}
    head.zero_grad()
    loss = head.loss(memory, mask, boxes)['loss_seq_init']
    loss.backward()
    torch.testing.assert_close(loss, reference)
    assert {n for n, p in head.named_parameters() if p.grad is not None} == set(expected)
    for name, grad in expected.items():
        # Float rounding only: the two losses sum the same terms in different orders.
        torch.testing.assert_close(head.get_parameter(name).grad, grad, rtol=1e-5, atol=1e-6)


def test_sincos_bin_embeddings_for_training_from_scratch():
    cfg = Config.fromfile(str(TINY_CONFIG))
    default = blip.get_model(cfg)
    cfg.model.head.bin_embed_init = 'sincos'
    head = blip.get_model(cfg).head
    assert head.state_dict().keys() == default.head.state_dict().keys()
    bins = slice(head.bin_start_id, head.bin_start_id + head.num_bins + 1)
    codes = head.decoder.bert.embeddings.word_embeddings.weight[bins].detach()
    assert codes.shape == (641, 64)
    # Bin b: sin(b * w_k) and cos(b * w_k), w_k = 1 / 100 ** (k / 32); the output
    # projection shares the weights, so neighbouring bins start with close logits.
    omega = 1 / 100 ** (torch.arange(32) / 32)
    torch.testing.assert_close(codes[3], torch.cat([(3 * omega).sin(), (3 * omega).cos()]))
    assert torch.equal(head.decoder.cls.predictions.decoder.weight[bins], codes)
    assert (codes[1:] - codes[:-1]).norm(dim=1).max() < (codes[0] - codes[20]).norm()
    cfg.model.head.bin_embed_init = 'ordinal'
    with pytest.raises(ValueError, match="bin_embed_init must be None or 'sincos'"):
        blip.get_model(cfg)
