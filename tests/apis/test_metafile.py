"""metafile.yml against configs/blip/, and the model-zoo pages written from it (docs/gen_model_zoo.py)."""

import importlib.util
import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'configs/blip'

METAFILE_RULE = (
    'Rule: every config under configs/blip/ (except _base_/ and the examples/ of the guides) has a '
    '`Models:` entry in metafile.yml whose `Config:` names it, and every entry names an existing '
    'config. An entry needs Name, In Collection, '
    'Metadata (Parameters, Training Data) and Config; add Results only with numbers that were measured '
    '(published ones, or measured here with Weights: a file in this repository, which the docs label '
    '"measured locally"), Converted From for converted weights, Metadata: Zero-shot: true for '
    'zero-shot results.'
)


def load_generator():
    spec = importlib.util.spec_from_file_location('gen_model_zoo', REPO / 'docs/gen_model_zoo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def gen():
    return load_generator()


@pytest.fixture(scope='module')
def models():
    return yaml.safe_load((REPO / 'metafile.yml').read_text(encoding='utf-8'))['Models']


@pytest.fixture(scope='module')
def pages(gen, tmp_path_factory):
    out = tmp_path_factory.mktemp('model_zoo')
    gen.write_pages(REPO / 'metafile.yml', out)
    return {path.stem: path.read_text(encoding='utf-8') for path in out.glob('*.md')}


def table_rows(page: str) -> dict[str, list[str]]:
    """Cells of each table row of a generated page, by model name."""
    rows = {}
    for line in page.splitlines():
        match = re.match(r'\| `([^`]+)`', line)
        if match:
            rows[match.group(1)] = [cell.strip() for cell in line.strip().strip('|').split(' | ')]
    return rows


def test_every_metafile_entry_names_an_existing_config(models):
    missing = [(m['Name'], m.get('Config')) for m in models if not (REPO / str(m.get('Config'))).is_file()]
    assert not missing, f'metafile.yml entries whose config does not exist: {missing}. {METAFILE_RULE}'


def test_every_config_has_a_metafile_entry(models):
    named = {m.get('Config') for m in models}
    configs = sorted(
        str(p.relative_to(REPO)) for p in CONFIGS.rglob('*.py') if not {'_base_', 'examples'} & set(p.parts)
    )
    unlisted = [config for config in configs if config not in named]
    assert not unlisted, f'configs without a metafile.yml entry: {unlisted}. {METAFILE_RULE}'


def test_names_are_unique_and_entries_complete(models):
    names = [m['Name'] for m in models]
    assert len(names) == len(set(names)), [n for n in names if names.count(n) > 1]
    for model in models:
        assert model.get('In Collection') == 'BLIP', model['Name']
        assert isinstance(model['Metadata'].get('Parameters'), int), model['Name']
        assert model['Metadata'].get('Training Data'), model['Name']


def test_local_weights_exist(models):
    local = [m for m in models if m.get('Weights') and not m['Weights'].startswith(('http://', 'https://'))]
    missing = [(m['Name'], m['Weights']) for m in local if not (REPO / m['Weights']).is_file()]
    assert not missing, f'Weights that name a file of this repository which does not exist: {missing}'


def test_overview_has_every_model_with_its_markers_and_numbers(models, pages):
    rows = table_rows(pages['index'])
    assert list(rows) == [m['Name'] for m in models]
    for model in models:
        name_cell, _task, dataset, metrics, params, config, weights = rows[model['Name']]
        assert ('\\*' in name_cell) == ('Converted From' in model), name_cell
        assert ('#' in name_cell) == bool(model['Metadata'].get('Zero-shot')), name_cell
        assert float(params) == round(model['Metadata']['Parameters'] / 1e6, 2)
        assert f'{model["Config"]})' in config
        assert (model.get('Weights') or '—') in weights
        results = model.get('Results') or []
        if not results:
            assert metrics == 'no published result' and dataset == '—'
        several_tasks = len({result['Task'] for result in results}) > 1
        for result in results:
            assert result['Dataset'] in dataset
            # With several tasks (retrieval: both directions) each has its own part: 'Task: ...; Task: ...'.
            part = metrics.split(result['Task'] + ': ')[1].split(';')[0] if several_tasks else metrics
            for metric, value in result['Metrics'].items():
                shown = re.search(re.escape(metric) + r' ([0-9.]+)', part)
                assert shown and float(shown.group(1)) == value, (model['Name'], metric, metrics)


def test_one_page_per_task_lists_each_model_once(models, pages):
    task_pages = {name: page for name, page in pages.items() if name != 'index'}
    assert set(task_pages) == {'caption', 'vqa', 'retrieval', 'nlvr', 'grounding', 'feature', 'pretrain'}
    for model in models:
        hits = [name for name, page in task_pages.items() if model['Name'] in table_rows(page)]
        assert len(hits) == 1, (model['Name'], hits)
    for name in task_pages:
        assert f'({name}.md)' in pages['index'], f'the overview links the {name} page'
    retrieval = table_rows(task_pages['retrieval'])['blip-base_3rdparty_retrieval']
    # Columns per (task, metric): both retrieval directions are shown.
    assert '82.52' in retrieval and '64.82' in retrieval


def test_local_weights_are_labelled_measured_locally(gen, tmp_path):
    weights = tmp_path / 'tiny.pth'
    weights.write_bytes(b'')
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text(
        yaml.safe_dump(
            {
                'Models': [
                    {
                        'Name': 'tiny-local',
                        'Metadata': {'Parameters': 1234567, 'Training Data': ['Shapes']},
                        'Results': [
                            {'Task': 'Image Caption', 'Dataset': 'Shapes', 'Metrics': {'CIDEr': 71.15}}
                        ],
                        'Weights': 'checkpoints/tiny.pth',
                        'Config': 'configs/blip/blip-tiny_shapes_caption.py',
                    },
                    {
                        'Name': 'measured-here',
                        'Metadata': {'Parameters': 1, 'Training Data': ['Shapes'], 'Measured Locally': True},
                        'Results': [
                            {'Task': 'Image Caption', 'Dataset': 'Shapes', 'Metrics': {'CIDEr': 1.5}}
                        ],
                        'Weights': 'https://example.org/uploaded.pth',
                        'Config': 'configs/blip/blip-tiny_shapes_caption.py',
                    },
                    {
                        'Name': 'released',
                        'Metadata': {'Parameters': 7654321, 'Training Data': ['COCO'], 'Zero-shot': True},
                        'Results': [
                            {'Task': 'Image Caption', 'Dataset': 'NoCaps', 'Metrics': {'CIDEr': 109.12}}
                        ],
                        'Weights': 'https://example.org/released.pth',
                        'Config': 'configs/blip/blip-base_caption.py',
                        'Converted From': {'Weights': 'https://example.org/original.pth'},
                    },
                ]
            }
        )
    )
    out = tmp_path / 'pages'
    gen.write_pages(metafile, out, repo=REPO)
    overview = table_rows((out / 'index.md').read_text())
    assert overview['tiny-local'][0] == '`tiny-local`'
    assert overview['tiny-local'][3] == 'CIDEr 71.15 (measured locally)'
    assert (
        'checkpoints/tiny.pth' in overview['tiny-local'][6]
        and 'in this repository' in overview['tiny-local'][6]
    )
    assert overview['measured-here'][3] == 'CIDEr 1.50 (measured locally)'
    assert overview['released'][0] == '`released`\\*#'
    assert overview['released'][3] == 'CIDEr 109.12'
    caption = (out / 'caption.md').read_text()
    assert table_rows(caption)['tiny-local'][3] == '71.15 (measured locally)'
    assert '[weights](https://example.org/original.pth)' in caption


def test_a_missing_config_is_named(gen, tmp_path):
    metafile = tmp_path / 'metafile.yml'
    metafile.write_text(
        yaml.safe_dump({'Models': [{'Name': 'ghost', 'Metadata': {}, 'Config': 'configs/blip/ghost.py'}]})
    )
    with pytest.raises(gen.MetafileError, match=r"'ghost'.*configs/blip/ghost.py"):
        gen.write_pages(metafile, tmp_path / 'pages', repo=REPO)


OFFICIAL_MODELS = 'https://storage.googleapis.com/sfr-vision-language-research/BLIP/models/'
#: The official class of a checkpoint -> the model class of its entry's config.
OFFICIAL_TASK_MODELS = {
    'BLIP_Pretrain': 'BlipFeatureExtractor',
    'BLIP_Decoder': 'BlipCaption',
    'BLIP_Retrieval': 'BlipRetrieval',
    'BLIP_VQA': 'BlipVQA',
    'BLIP_NLVR': 'BlipNLVR',
}
#: The Hugging Face BLIP models on the Hub (Salesforce/<name>) -> the model class of their config.
HF_MODELS = {
    'blip-image-captioning-base': 'BlipCaption',
    'blip-image-captioning-large': 'BlipCaption',
    'blip-vqa-base': 'BlipVQA',
    'blip-vqa-capfilt-large': 'BlipVQA',
    'blip-itm-base-coco': 'BlipRetrieval',
    'blip-itm-base-flickr': 'BlipRetrieval',
    'blip-itm-large-coco': 'BlipRetrieval',
    'blip-itm-large-flickr': 'BlipRetrieval',
}


def test_every_official_checkpoint_has_an_entry_of_its_task_and_size(gen, models):
    checkpoints = json.loads((REPO / 'tests/data/official_blip/checkpoint_map.json').read_text())
    assert len(checkpoints) == 13
    for checkpoint in checkpoints:
        url = OFFICIAL_MODELS + checkpoint['checkpoint']
        entries = [m for m in models if m.get('Weights') == url]
        assert len(entries) == 1, (checkpoint['checkpoint'], entries)
        entry = entries[0]
        assert entry['Converted From']['Weights'] == url
        assert entry['Converted From']['Code'] == 'https://github.com/salesforce/BLIP'
        assert gen.model_type(entry['Config']) == OFFICIAL_TASK_MODELS[checkpoint['class']], entry['Name']
        assert entry['Name'].startswith(f'blip-{checkpoint["vit"]}'), entry['Name']


def test_every_hugging_face_model_has_an_entry_with_its_weights_file(gen, models):
    for repo, model_type in HF_MODELS.items():
        url = f'https://huggingface.co/Salesforce/{repo}/resolve/main/pytorch_model.bin'
        entries = [m for m in models if m.get('Weights') == url]
        assert len(entries) == 1, repo
        assert gen.model_type(entries[0]['Config']) == model_type
        size = 'large' if '-large' in repo and 'capfilt' not in repo else 'base'
        assert entries[0]['Name'].startswith(f'blip-{size}'), entries[0]['Name']


def test_official_and_hub_entries_list_no_unpublished_result(models):
    for model in models:
        if '_official_' in model['Name'] or '_hf_' in model['Name']:
            assert not model.get('Results'), f'{model["Name"]}: add results only citing the paper table'
