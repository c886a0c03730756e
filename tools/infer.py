"""Run a model on images: ``python tools/infer.py MODEL_OR_CONFIG IMAGE... [options]``.

The ``blip-infer`` command, run from a clone; the code is ``projects/blip/cli/infer.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.infer()
