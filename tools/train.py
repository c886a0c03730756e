"""Train a BLIP model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]``.

The ``blip-train`` command, run from a clone; the code is ``projects/blip/cli/train.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.train()
