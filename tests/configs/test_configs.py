"""The configs: each value defined once, complete loops, and every path following its dataset's data_root.

The configs are read with mmengine's ``Config`` (no model is built) except in
the last test, which trains and tests the example config's data with tiny
towers.
"""

import json
from argparse import Namespace
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

import blip  # noqa: F401  (registers the blip scope)
from blip.cli._common import load_config, move_data_root
from blip.registry import DATASETS, METRICS

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs/blip'
#: The pre-trained models' configs: a feature extractor for get_model, no data or loops.
FEATURES = sorted(CONFIGS.glob('*_feature.py'))
#: The configs users run: the model-zoo configs, the guides' examples and the tests' tiny configs.
RUNNABLE = [
    *(path for path in sorted(CONFIGS.glob('*.py')) if path not in FEATURES),
    *sorted((CONFIGS / 'examples').glob('*.py')),
    *sorted((REPO / 'tests/data/configs').glob('*.py')),
]
EXAMPLE = CONFIGS / 'examples/caption_coco_layout.py'
LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
#: Dataset arguments that hold a path below the dataset's data_root.
PATH_KEYS = ('ann_file', 'question_file', 'split_file', 'gt_file', 'data_prefix', 'image_folders')
NEW_ROOT = '/elsewhere/my_data'


def config_id(path: Path) -> str:
    return str(path.relative_to(REPO))


def dataset_dicts(cfg):
    """(loader, dataset config) for every dataset, those inside wrappers (ConcatDataset) included."""
    for loader in LOADERS:
        if cfg.get(loader) is None:
            continue
        pending = [cfg[loader].dataset]
        while pending:
            dataset = pending.pop()
            pending.extend(dataset.get('datasets', []))
            if 'data_root' in dataset:
                yield loader, dataset


def strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from strings(value)


def child_moving_data_root(parent: Path, cfg: Config, folder: Path) -> Path:
    """A config that inherits ``parent`` and sets data_root, written as a user would write it."""
    lines = [f'_base_ = [{str(parent)!r}]', '', f'data_root = {NEW_ROOT!r}']
    for loader in LOADERS:
        dataset = (cfg.get(loader) or {}).get('dataset')
        if dataset is None:
            continue
        if 'datasets' in dataset:  # a wrapper: restate its list, moving the parts that read data_root
            parts = [
                f'dict(_base_.{loader}.dataset.datasets[{i}], data_root=data_root)'
                if part.get('data_root') == cfg.data_root
                else f'_base_.{loader}.dataset.datasets[{i}]'
                for i, part in enumerate(dataset.datasets)
            ]
            lines.append(f'{loader} = dict(dataset=dict(datasets=[{", ".join(parts)}]))')
        else:
            lines.append(f'{loader} = dict(dataset=dict(data_root=data_root))')
    path = folder / 'moved.py'
    path.write_text('\n'.join(lines) + '\n')
    return path


@pytest.mark.parametrize('path', RUNNABLE, ids=config_id)
def test_every_loop_is_complete_or_absent(path):
    """mmengine's Runner refuses a loop with only some of its three parts."""
    cfg = Config.fromfile(str(path))
    loops = {
        'train': ('train_dataloader', 'train_cfg', 'optim_wrapper'),
        'val': ('val_dataloader', 'val_cfg', 'val_evaluator'),
        'test': ('test_dataloader', 'test_cfg', 'test_evaluator'),
    }
    for stage, keys in loops.items():
        present = {key: cfg.get(key) is not None for key in keys}
        assert len(set(present.values())) == 1, f'{stage} loop: {present}'
    assert cfg.get('test_dataloader') is not None


@pytest.mark.parametrize('path', FEATURES, ids=config_id)
def test_feature_extractor_configs_have_a_model_and_no_loops(path):
    cfg = Config.fromfile(str(path))
    assert cfg.model.type == 'BlipFeatureExtractor' and cfg.test_pipeline
    for key in (
        *LOADERS,
        'train_cfg',
        'val_cfg',
        'test_cfg',
        'optim_wrapper',
        'val_evaluator',
        'test_evaluator',
    ):
        assert cfg.get(key) is None, key


@pytest.mark.parametrize('path', RUNNABLE, ids=config_id)
def test_dataset_paths_are_below_data_root_and_metrics_hold_none(path):
    cfg = Config.fromfile(str(path))
    found = list(dataset_dicts(cfg))
    assert found
    for loader, dataset in found:
        for key in PATH_KEYS:
            for value in strings(dataset.get(key)):
                assert not value.startswith(('/', 'data/')), f'{loader}.dataset.{key}={value!r}'
    for key in ('val_evaluator', 'test_evaluator'):
        assert not [s for s in strings(cfg.get(key)) if '/' in s], f'{key} holds a path: {cfg.get(key)}'


@pytest.mark.parametrize('how', ['child config', 'cfg-options'])
@pytest.mark.parametrize('path', RUNNABLE, ids=config_id)
def test_setting_data_root_moves_every_path(path, how, tmp_path):
    """A child config that sets its loaders' data_root, or ``--cfg-options data_root=DIR``
    (tools/train.py, tools/test.py), leaves no path of the data at the old root."""
    cfg = Config.fromfile(str(path))
    old = cfg.data_root
    others = {d.data_root for _, d in dataset_dicts(cfg)} - {old}  # e.g. VQAv2's Visual Genome
    if how == 'child config':
        moved = Config.fromfile(str(child_moving_data_root(path, cfg, tmp_path)))
    else:
        args = Namespace(
            config=str(path), cfg_options={'data_root': NEW_ROOT}, work_dir=None, launcher='none'
        )
        moved = load_config(args)
    assert moved.data_root == NEW_ROOT
    assert {d.data_root for _, d in dataset_dicts(moved)} == {NEW_ROOT} | others
    # The model's own files (VQA's rank-mode answer list) are not data paths.
    data = {
        key: moved.get(key) for key in (*LOADERS, 'val_evaluator', 'test_evaluator', 'val_cfg', 'test_cfg')
    }
    stale = [s for s in strings(data) if s == old or s.startswith(old.rstrip('/') + '/')]
    assert not stale, f'still at {old}: {stale}'


def test_other_options_apply_after_data_root():
    args = Namespace(
        config=str(CONFIGS / 'blip-base_vqa.py'),
        cfg_options={'data_root': NEW_ROOT, 'val_dataloader.dataset.data_root': '/val/root'},
        work_dir=None,
        launcher='none',
    )
    cfg = load_config(args)
    assert cfg.train_dataloader.dataset.datasets[0].data_root == NEW_ROOT
    assert cfg.train_dataloader.dataset.datasets[1].data_root == 'data/visual_genome'
    assert cfg.val_dataloader.dataset.data_root == '/val/root'
    assert cfg.test_dataloader.dataset.data_root == NEW_ROOT


def test_shared_values_are_written_once():
    """BLIP's normalisation, the towers' sizes and the ITC queue length each live in one place."""
    texts = {p: p.read_text(encoding='utf-8') for p in (REPO / 'configs').rglob('*.py')}

    def files_with(text):
        return sorted(str(p.relative_to(CONFIGS)) for p, t in texts.items() if text in t)

    assert files_with('122.770938') == ['_base_/data/default.py']
    assert files_with('57600') == []  # ITCHead's default
    assert files_with('embed_dims=64') == ['_base_/models/blip-tiny.py']
    assert files_with('vocab_size') == ['_base_/models/blip-base.py']
    assert files_with('CosineAnnealingLR') == [
        '_base_/schedules/finetune.py',
        '_base_/schedules/grounding.py',
        '_base_/schedules/retrieval.py',
        # The authors' epochs (5 and 15) end the cosine elsewhere.
        'blip-base_caption_official.py',
        'blip-base_nlvr_official.py',
        *sorted(f'blip-tiny_shapes_{task}.py' for task in ('caption', 'nlvr', 'refcoco', 'retrieval', 'vqa')),
    ]


TINY = [p for p in RUNNABLE if p.name.startswith(('blip-tiny_', 'tiny_'))]


@pytest.mark.parametrize('path', TINY, ids=config_id)
def test_tiny_configs_use_the_tiny_towers(path):
    tiny = Config.fromfile(str(CONFIGS / '_base_/models/blip-tiny.py'))
    cfg = Config.fromfile(str(path))
    arch = {k: v for k, v in tiny.tiny_image_encoder.arch.items() if k != '_delete_'}
    assert cfg.model.image_encoder.arch == arch
    sizes = {k: v for k, v in tiny.tiny_med_config.items() if 'dropout' not in k and k != 'num_hidden_layers'}
    towers = [m.config for m in (cfg.model.get('text_encoder'), cfg.model.get('multimodal_encoder')) if m]
    towers += [cfg.model.head.decoder.config] if 'decoder' in cfg.model.get('head', {}) else []
    assert towers
    for config in towers:
        assert {k: config[k] for k in sizes} == sizes


def test_the_guide_shows_the_example_config():
    code = '\n'.join(line for line in EXAMPLE.read_text().splitlines() if not line.startswith('#'))
    assert code.strip() in (REPO / 'docs/user_guides/datasets.md').read_text(encoding='utf-8')


@pytest.fixture(scope='module')
def karpathy_root(tmp_path_factory):
    from blip.cli.generate_shapes import generate

    return generate(tmp_path_factory.mktemp('shapes'), seed=0, train=4, val=2, test=2)


def test_example_config_reads_a_dataset_in_the_coco_layout(karpathy_root, tmp_path):
    """The guide's example config, moved to generated data, builds its datasets, loads
    samples through the pipelines, and the metric scores against the moved ground truth."""
    from mmengine.evaluator import Evaluator

    cfg = Config.fromfile(str(EXAMPLE))
    move_data_root(cfg, str(karpathy_root))
    with DefaultScope.overwrite_default_scope('blip'):
        datasets = {loader: DATASETS.build(cfg[loader].dataset) for loader in LOADERS}
        for loader, dataset in datasets.items():
            sample = dataset[0]
            assert tuple(sample['inputs'].shape) == (3, 384, 384), loader
            assert str(dataset.ann_file).startswith(str(karpathy_root))
        val = datasets['val_dataloader']
        assert val.metainfo['gt_file'] == str(karpathy_root / 'annotations/coco_karpathy_val_gt.json')

        evaluator = Evaluator(METRICS.build(dict(cfg.val_evaluator, output_dir=str(tmp_path))))
        evaluator.dataset_meta = val.metainfo  # as mmengine's ValLoop does
        ground_truth = json.loads(Path(val.metainfo['gt_file']).read_text())['annotations']
        first = {}
        for annotation in ground_truth:
            first.setdefault(annotation['image_id'], annotation['caption'])
        samples = [dict(image_id=val[i]['data_samples'].image_id) for i in range(len(val))]
        for sample in samples:
            sample['pred_caption'] = first[sample['image_id']]
        evaluator.process(samples)
        metrics = evaluator.evaluate(len(samples))
    assert metrics['Bleu_1'] > 0.5 and metrics['CIDEr'] > 0


def test_example_config_trains_and_tests_with_tiny_towers(karpathy_root, tmp_path):
    """The example's data through mmengine's Runner: one epoch of training, then the test
    loop scoring against the moved ground truth (tiny towers at the config's 384 px)."""
    from mmengine.runner import Runner

    child = tmp_path / 'tiny_example.py'
    child.write_text(
        f"""_base_ = [{str(EXAMPLE)!r}, {str(CONFIGS / '_base_/models/blip-tiny.py')!r}]
model = dict(
    image_encoder=dict(_base_.tiny_image_encoder, img_size=384),
    head=dict(decoder=dict(config=_base_.tiny_med_config)),
    generation_cfg=dict(max_length=8),
)
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader)
val_dataloader = dict(loader)
test_dataloader = dict(loader)
train_cfg = dict(max_epochs=1, val_interval=1)
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=1)]
default_hooks = dict(checkpoint=dict(interval=1))
randomness = dict(seed=0)
"""
    )
    args = Namespace(
        config=str(child), cfg_options={'data_root': str(karpathy_root)}, work_dir=None, launcher='none'
    )
    cfg = load_config(args)
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert {'Bleu_4', 'CIDEr'} <= set(metrics)
