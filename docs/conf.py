"""Sphinx configuration: ``python -m sphinx -W --keep-going -E -b html docs docs/_build/html``."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
# autodoc imports `blip` from the clone even without an installed package.
sys.path.insert(0, str(REPO / 'projects'))
sys.path.insert(0, str(DOCS))

import gen_model_zoo  # noqa: E402

from blip import __version__  # noqa: E402

# The model-zoo pages are written from metafile.yml on every build (never edited by hand).
gen_model_zoo.write_pages(REPO / 'metafile.yml', DOCS / 'model_zoo')

project = 'BLIP for OpenMMLab'
author = 'BLIP for OpenMMLab contributors'
copyright = '2026, ' + author
release = __version__

extensions = ['myst_parser', 'sphinx.ext.autodoc', 'sphinx.ext.napoleon', 'sphinx.ext.viewcode']
source_suffix = {'.md': 'markdown', '.rst': 'restructuredtext'}
exclude_patterns = ['_build']

myst_heading_anchors = 3

autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = 'furo'
html_title = f'BLIP for OpenMMLab {release}'
html_static_path = ['_static']
html_css_files = ['wide_tables.css']
