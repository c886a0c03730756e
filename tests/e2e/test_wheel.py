"""The package works from a wheel, installed in a fresh environment, outside the repository.

The wheel is built from an sdist of the repository (as ``python -m build`` does),
so MANIFEST.in and setup.py's copy of the model zoo into the package are both
checked. The fresh virtual environment reuses this environment's dependencies
(torch and friends are big) through a ``.pth`` file naming their site-packages;
this environment's own ``blip`` (an editable install's ``.pth`` file) is not
seen there, since a ``.pth`` file is read only in a site directory of its own
environment. Nothing needs the network.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
#: What an sdist is built from.
SOURCE = (
    'setup.py',
    'setup.cfg',
    'pyproject.toml',
    'MANIFEST.in',
    'README.md',
    'projects',
    'configs',
    'metafile.yml',
    'checkpoints',
)
COMMANDS = {
    'blip-train',
    'blip-test',
    'blip-infer',
    'blip-demo',
    'blip-convert-hf',
    'blip-convert-official',
    'blip-generate-shapes',
    'blip-publish-model',
    'blip-capfilt',
}
IMAGE = REPO / 'demo/large-blue-circle.png'
#: The README's quick-start caption of IMAGE.
CAPTION = 'there is a large blue circle'

#: Run in the fresh environment: where ``blip`` and the model zoo come from, the
#: quick start, and ``--help`` of every console command (through the installed
#: entry points, in this one process, which spares an import of torch and
#: mmpretrain per command).
CHECK = """
import contextlib, io, json, sys
from importlib.metadata import distribution

import blip
from blip import inference_model, list_models
from blip.apis.model_zoo import model_zoo_root

dist = distribution('blip-openmmlab')
helps = {}
for entry_point in dist.entry_points.select(group='console_scripts'):
    sys.argv = [entry_point.name, '--help']
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        try:
            entry_point.load()()
        except SystemExit as stop:
            helps[entry_point.name] = (stop.code, printed.getvalue())
print(json.dumps({
    'blip': blip.__file__,
    'distribution': str(dist.locate_file('')),
    'model_zoo': str(model_zoo_root()),
    'models': list_models(),
    'caption': inference_model('blip-tiny_shapes_caption', 'image.png')['pred_caption'],
    'helps': helps,
}))
"""


def run(command: list, **kwargs) -> str:
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f'{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}'
    return result.stdout


@pytest.fixture(scope='module')
def wheel(tmp_path_factory) -> Path:
    """A wheel built from an sdist of a copy of the repository (a build writes into its source)."""
    root = tmp_path_factory.mktemp('build')
    source = root / 'source'
    for name in SOURCE:
        if (REPO / name).is_dir():
            shutil.copytree(
                REPO / name, source / name, ignore=shutil.ignore_patterns('__pycache__', '*.egg-info')
            )
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    build_sdist = 'import sys; from setuptools import build_meta; build_meta.build_sdist(sys.argv[1])'
    run([sys.executable, '-c', build_sdist, root / 'sdist'], cwd=source)
    (sdist,) = (root / 'sdist').glob('*.tar.gz')
    with tarfile.open(sdist) as tar:
        tar.extractall(root / 'unpacked', **({'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}))
    (unpacked,) = (root / 'unpacked').iterdir()
    pip = [sys.executable, '-m', 'pip', '--disable-pip-version-check']
    run([*pip, 'wheel', '--no-deps', '--no-build-isolation', '--no-index', '-w', root / 'wheel', unpacked])
    (built,) = (root / 'wheel').glob('*.whl')
    return built


@pytest.fixture(scope='module')
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed and this environment's dependencies."""
    root = tmp_path_factory.mktemp('venv')
    run([sys.executable, '-m', 'venv', '--without-pip', root])
    python = root / ('Scripts/python.exe' if os.name == 'nt' else 'bin/python')
    site_packages = Path(
        run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])']).strip()
    )
    # The site directories this process imports from (a venv's, the system's with
    # --system-site-packages, the user's), not the repository's projects/ folder.
    dependencies = dict.fromkeys(p for p in sys.path if Path(p).name in ('site-packages', 'dist-packages'))
    (site_packages / 'dependencies.pth').write_text('\n'.join(dependencies) + '\n')
    # --ignore-installed: pip sees this environment's blip-openmmlab through the .pth
    # file and must neither uninstall it nor count it as installed.
    run(
        [python, '-m', 'pip', 'install', '--no-deps', '--no-index', '--ignore-installed', wheel],
        env=clean_env(root),
    )
    return root


def clean_env(venv: Path) -> dict:
    """This process's environment without its Python paths, the fresh environment's commands first."""
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV')}
    env['PATH'] = f'{python_bin(venv)}{os.pathsep}{env.get("PATH", "")}'
    env['PYTHONNOUSERSITE'] = '1'
    env['HF_HUB_OFFLINE'] = '1'
    return env


def python_bin(venv: Path) -> Path:
    return venv / ('Scripts' if os.name == 'nt' else 'bin')


def test_the_wheel_holds_the_model_zoo(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {'blip/.mim/metafile.yml', 'blip/.mim/configs/blip/_base_/models/blip-base.py'} <= names
    assert {f'blip/.mim/checkpoints/{p.name}' for p in (REPO / 'checkpoints').glob('*.pth')} <= names
    assert not [name for name in names if '__pycache__' in name or name.endswith('.pyc')]
    # The shipped tiny checkpoint makes the offline quick start work; it is most of the wheel.
    assert wheel.stat().st_size < 12 * 2**20


def test_an_installed_wheel_runs_the_quick_start_and_the_commands_outside_the_repository(venv, tmp_path):
    work = tmp_path / 'elsewhere'
    work.mkdir()
    assert REPO not in work.parents
    shutil.copy(IMAGE, work / 'image.png')
    env = clean_env(venv)
    # The installed command, as a user types it, runs beside the check.
    infer = subprocess.Popen(
        [str(python_bin(venv) / 'blip-infer'), 'blip-tiny_shapes_caption', 'image.png'],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        found = json.loads(
            run([python_bin(venv) / 'python', '-c', CHECK], cwd=work, env=env).splitlines()[-1]
        )
        stdout, stderr = infer.communicate(timeout=300)
    finally:
        infer.kill()
    site_packages = Path(found['distribution']).resolve()
    assert venv.resolve() in site_packages.parents
    assert Path(found['blip']).resolve() == site_packages / 'blip/__init__.py'
    assert Path(found['model_zoo']).resolve() == site_packages / 'blip/.mim'
    assert 'blip-tiny_shapes_caption' in found['models'] and 'blip-base_3rdparty_caption' in found['models']
    assert found['caption'] == CAPTION
    assert infer.returncode == 0, stderr[-3000:]
    assert stdout.strip() == f'image.png: {CAPTION}'
    assert set(found['helps']) == COMMANDS
    for command, (code, printed) in found['helps'].items():
        assert code == 0 and printed.startswith(f'usage: {command} '), (command, printed)
    assert {path.name for path in python_bin(venv).iterdir()} >= COMMANDS
