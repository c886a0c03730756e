"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]``.

The ``blip-test`` command, run from a clone; the code is ``projects/blip/cli/test.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.test()
