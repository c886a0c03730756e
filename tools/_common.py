"""Run from a clone without installing: make ``import blip`` find projects/blip (not a public module)."""

import sys
from pathlib import Path

_PROJECTS = str(Path(__file__).resolve().parents[1] / 'projects')
if _PROJECTS not in sys.path:
    sys.path.insert(0, _PROJECTS)
