"""NLVR2 data in the official layout, its pipelines, accuracy, inference and the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from PIL import Image

import blip
from blip.datasets import AnnotationError
from blip.registry import DATASETS, METRICS
from tiny_models import randomize

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_nlvr.py'
COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (230, 220, 30)]


def write_nlvr2(root: Path) -> Path:
    """Two training pairs in numbered folders (``train/<directory>/``) and three
    flat dev pairs, with JSON-lines files as NLVR2 publishes them."""
    rng = np.random.default_rng(0)
    lines = {'train': [], 'dev': []}
    specs = [('train', 7, 3), ('train', 12, 41), ('dev', 5, None), ('dev', 9, None), ('dev', 21, None)]
    for number, (split, set_id, directory) in enumerate(specs):
        folder = root / 'images' / split / (str(directory) if directory is not None else '')
        folder.mkdir(parents=True, exist_ok=True)
        for side in range(2):
            pixels = np.full((40 + 8 * side, 56, 3), 240, dtype=np.uint8)
            x, y = rng.integers(0, 20, size=2)
            pixels[y : y + 18, x : x + 18] = COLOURS[(number + side) % 4]
            Image.fromarray(pixels).save(folder / f'{split}-{set_id}-0-img{side}.png')
        record = {
            'identifier': f'{split}-{set_id}-0-{number % 2}',
            'sentence': f'The left image shows a {["red", "green", "blue", "yellow"][number % 4]} square.',
            'label': 'True' if number % 2 == 0 else 'False',
            'left_url': 'https://example.invalid/l.jpg',
            'right_url': 'https://example.invalid/r.jpg',
        }
        if directory is not None:
            record['directory'] = directory
        lines[split].append(json.dumps(record))
    for split, records in lines.items():
        (root / f'{split}.json').write_text('\n'.join(records) + '\n')
    return root


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return write_nlvr2(tmp_path_factory.mktemp('nlvr2'))


@pytest.fixture(scope='module')
def config(data_root):
    cfg = Config.fromfile(str(TINY_CONFIG))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(data_root)
    cfg.test_dataloader.dataset.ann_file = 'dev.json'
    cfg.test_dataloader.dataset.data_prefix = 'images/dev'
    return cfg


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize(blip.get_model(TINY_CONFIG), std=0.2)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_nlvr.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture(scope='module')
def model(checkpoint):
    return blip.get_model(TINY_CONFIG, pretrained=str(checkpoint))


def build_dataset(cfg):
    with DefaultScope.overwrite_default_scope('blip'):
        return DATASETS.build(cfg)


def test_dataset_reads_the_official_layout(config, data_root):
    train = build_dataset(config.train_dataloader.dataset.copy() | dict(pipeline=[]))
    item = train[1]
    assert item['img_path'] == [str(data_root / f'images/train/41/train-12-0-img{i}.png') for i in range(2)]
    assert item['gt_label'] == 0 and item['identifier'] == 'train-12-0-1'
    assert item['text'] == 'The left image shows a green square.'
    dev = build_dataset(config.test_dataloader.dataset.copy() | dict(pipeline=[]))
    assert [d['gt_label'] for d in dev] == [1, 0, 1]
    assert dev[0]['img_path'][1] == str(data_root / 'images/dev/dev-5-0-img1.png')
    assert all(Path(p).is_file() for d in list(train) + list(dev) for p in d['img_path'])


@pytest.mark.parametrize(
    'line, message',
    [
        (
            '{"identifier": "dev-1-0-0", "sentence": "s", "label": "maybe"}',
            r"line 2: label should be 'True' or 'False'",
        ),
        ('{"identifier": "dev-1-0-0", "label": "True"}', r"line 2 has no 'sentence' key"),
        ('{"identifier": "dev-1-0-0", ', r'line 2 is not valid JSON'),
    ],
)
def test_bad_lines_name_the_file_and_line(tmp_path, line, message):
    good = '{"identifier": "dev-0-0-0", "sentence": "s", "label": "True"}'
    (tmp_path / 'dev.json').write_text(good + '\n' + line + '\n')
    with pytest.raises(AnnotationError, match=message) as error:
        build_dataset(dict(type='NLVR2', data_root=str(tmp_path), ann_file='dev.json', data_prefix='dev'))
    assert 'dev.json' in str(error.value)


def test_missing_annotation_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='test1.json'):
        build_dataset(dict(type='NLVR2', data_root=str(tmp_path), ann_file='test1.json'))


def test_test_pipeline_predicts_pairs_and_accuracy_is_in_percent(config, model):
    dataset = build_dataset(config.test_dataloader.dataset)
    batch = pseudo_collate([dataset[i] for i in range(len(dataset))])
    images = model.data_preprocessor(batch)['images']
    assert images.shape == (3, 2, 3, 64, 64)
    preprocessor = model.data_preprocessor
    for index in range(3):  # sample-major: [index, 0] is that sample's left image
        for side in range(2):
            expected = (dataset[index]['inputs'][side].flip(0).float() - preprocessor.mean) / preprocessor.std
            torch.testing.assert_close(images[index, side], expected)
    with torch.no_grad():
        predictions = model.test_step(batch)
    labels = [int(p.pred_label) for p in predictions]
    assert all(torch.isclose(p.pred_score.sum(), torch.tensor(1.0)) for p in predictions)
    metric = METRICS.build(dict(type='Accuracy'))
    metric.process(batch, [p.to_dict() for p in predictions])
    expected = 100 * np.mean([label == truth for label, truth in zip(labels, [1, 0, 1])])
    assert metric.evaluate(len(predictions)) == {'accuracy/top1': pytest.approx(expected)}


def test_one_training_step_on_the_train_pipeline(config, checkpoint):
    torch.manual_seed(0)
    model = blip.get_model(TINY_CONFIG, pretrained=str(checkpoint)).train()
    dataset = build_dataset(config.train_dataloader.dataset)
    batch = pseudo_collate([dataset[0], dataset[1]])
    assert model.data_preprocessor(batch)['images'].shape == (2, 2, 3, 64, 64)
    before = model.head[2].weight.detach().clone()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    log = model.train_step(batch, wrapper)
    assert torch.isfinite(log['loss']) and not torch.equal(model.head[2].weight, before)


def test_inference_on_a_pair_returns_prediction_and_score(config, model, data_root):
    dataset = build_dataset(config.test_dataloader.dataset.copy() | dict(pipeline=[]))
    left, right = dataset[0]['img_path']
    statement = dataset[0]['text']
    result = blip.inference_model(model, (left, right), statement)
    assert set(result) == {'pred_label', 'pred_class', 'pred_score', 'pred_scores'}
    assert result['pred_class'] == ('False', 'True')[result['pred_label']]
    assert result['pred_score'] == pytest.approx(max(result['pred_scores']))
    with torch.no_grad():
        reference = model.test_step(pseudo_collate([build_dataset(config.test_dataloader.dataset)[0]]))[0]
    assert result['pred_scores'] == pytest.approx(reference.pred_score.tolist(), abs=1e-6)
    # The same pair given as BGR arrays and as PIL images.
    bgr = [np.asarray(Image.open(p).convert('RGB'))[..., ::-1].copy() for p in (left, right)]
    assert blip.inference_model(model, bgr, statement) == result
    assert blip.inference_model(model, [Image.open(left), Image.open(right)], statement) == result
    # A list of pairs is a batch, one statement per pair.
    batch = blip.inference_model(model, [(left, right), (right, left)], [statement, statement], batch_size=2)
    assert len(batch) == 2 and batch[0]['pred_scores'] == pytest.approx(result['pred_scores'], abs=1e-6)


def test_inference_refuses_what_is_not_a_pair(model, data_root):
    image = str(data_root / 'images/dev/dev-5-0-img0.png')
    with pytest.raises(ValueError, match='image pairs'):
        blip.inference_model(model, [image, image, image], 'three images')
    with pytest.raises(ValueError, match='2 image pairs but 1 statements'):
        blip.inference_model(model, [(image, image), (image, image)], ['one statement'])


def test_infer_tool_takes_two_images_as_one_pair(checkpoint, data_root, capsys):
    from blip.cli import infer

    left, right = (str(data_root / f'images/dev/dev-9-0-img{i}.png') for i in range(2))
    results = infer.main(
        [str(TINY_CONFIG), left, right, '--checkpoint', str(checkpoint), '--text', 'the left image is red']
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(results) == 1 and lines == [f'{left} + {right}: {json.dumps(results[0])}']


def test_items_equal_mmpretrains_on_flat_folders_and_fix_the_training_layout(config, data_root):
    from mmpretrain import datasets as mmpretrain_datasets

    dev = build_dataset(config.test_dataloader.dataset.copy() | dict(pipeline=[]))
    reference = mmpretrain_datasets.NLVR2(
        data_root=str(data_root), ann_file='dev.json', data_prefix='images/dev'
    )
    assert [(d['img_path'], d['text'], d['gt_label']) for d in dev] == [
        (r['img_path'], r['text'], r['gt_label']) for r in reference
    ]
    # mmpretrain ignores the numbered training folders: its paths do not exist.
    train = mmpretrain_datasets.NLVR2(
        data_root=str(data_root), ann_file='train.json', data_prefix='images/train'
    )
    assert not any(Path(p).is_file() for item in train for p in item['img_path'])
