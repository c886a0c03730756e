"""``import blip`` without mmcv says how to get it (``pip install -e .`` does not bring it)."""

import subprocess
import sys
from pathlib import Path

PROJECTS = Path(__file__).resolve().parents[1] / 'projects'


def test_import_without_mmcv_says_how_to_install_it():
    # None in sys.modules makes `import mmcv` fail as if it were not installed.
    code = "import sys; sys.modules['mmcv'] = None; import blip"
    result = subprocess.run(
        [sys.executable, '-c', code], cwd=PROJECTS, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith('ModuleNotFoundError: blip needs mmcv')
    assert 'pip install -e ".[lite]"' in last and 'full mmcv' in last
