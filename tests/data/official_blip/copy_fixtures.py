"""Copy what the tests need from the shared official BLIP fixtures, compactly.

    python tests/data/official_blip/copy_fixtures.py ../shared/fixtures/official_blip

The fixtures (their README says how each number was made, by the official
code) are ~24 MB; the tests need ~0.4 MB of them:

* ``recipe.json.gz``: per official class, each key's shape, dtype, recipe
  branch and seed key (from ``tiny_weights.json``), and one sha256 over the
  keys' sha256s: ``tests/official_fixtures.py`` regenerates the tiny
  checkpoints from it instead of shipping the 21 MB ``tiny_checkpoints.pth``;
* ``inputs/``: ``inputs.json``, and each of the three images resized to
  64, 96 and 128 px as the fixtures' test transform resized it
  (``image{i}_{size}.png``, recovered exactly from the preprocessed tensors:
  Pillow 12 resamples the portrait image 1 up to 3 levels differently from
  the fixtures' Pillow 13); the tests normalise them and check the result
  against the recorded sha256;
* ``<task>_outputs.json.gz`` and ``<task>_outputs.pt`` of every task;
* ``fullsize.json.gz``: the full-size key manifests (names, shapes, counts),
  ``load_checkpoint_dryrun.json`` and ``checkpoint_map.json``;
* ``tiny_configs/``: the tiny BERT configs.
"""

import gzip
import hashlib
import json
import shutil
import sys
from pathlib import Path

import torch
from PIL import Image

HERE = Path(__file__).parent
#: The official test transform's normalisation.
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)
TASKS = ('caption', 'vqa', 'retrieval', 'nlvr', 'itm', 'feature_extractor', 'load_demos', 'pretrain')
MANIFEST_FIELDS = (
    'class',
    'vit',
    'image_size',
    'num_params',
    'num_params_trainable',
    'num_keys',
    'tied_groups',
    'keys',
)


def write_gz(path: Path, content) -> None:
    with gzip.open(path, 'wt', encoding='utf-8') as f:
        json.dump(content, f, separators=(',', ':'))


def main(source: Path) -> None:
    weights = json.loads((source / 'tiny_weights.json').read_text())
    recipe = {}
    for name, model in weights.items():
        keys = [
            [key, k['shape'], k['dtype'], k['recipe'].split(':')[0], k.get('seed_key')]
            for key, k in model['keys'].items()
        ]
        digest = hashlib.sha256(''.join(k['sha256'] for k in model['keys'].values()).encode()).hexdigest()
        recipe[name] = {'keys': keys, 'sha256_of_sha256s': digest, 'tied_groups': model['tied_groups']}
    write_gz(HERE / 'recipe.json.gz', recipe)

    (HERE / 'inputs').mkdir(exist_ok=True)
    shutil.copy(source / 'inputs' / 'inputs.json', HERE / 'inputs' / 'inputs.json')
    preprocessed = torch.load(source / 'inputs' / 'inputs.pt', weights_only=True)
    mean, std = torch.tensor(MEAN)[:, None, None], torch.tensor(STD)[:, None, None]
    for size in (64, 96, 128):
        for i, image in enumerate(preprocessed[f'image_{size}']):
            pixels = (image * std + mean) * 255
            assert (pixels - pixels.round()).abs().max() < 1e-3
            array = pixels.round().to(torch.uint8).permute(1, 2, 0).numpy()
            Image.fromarray(array).save(HERE / 'inputs' / f'image{i}_{size}.png')
    for task in TASKS:
        write_gz(HERE / f'{task}_outputs.json.gz', json.loads((source / f'{task}_outputs.json').read_text()))
        shutil.copy(source / f'{task}_outputs.pt', HERE / f'{task}_outputs.pt')

    manifests = {}
    for path in sorted((source / 'fullsize').glob('BLIP_*.json')):
        manifest = json.loads(path.read_text())
        manifests[path.stem] = {field: manifest[field] for field in MANIFEST_FIELDS}
    write_gz(HERE / 'fullsize.json.gz', manifests)
    for name in ('fullsize/load_checkpoint_dryrun.json', 'checkpoint_map.json'):
        shutil.copy(source / name, HERE / Path(name).name)
    shutil.copytree(source / 'tiny_configs', HERE / 'tiny_configs', dirs_exist_ok=True)


if __name__ == '__main__':
    main(Path(sys.argv[1]))
