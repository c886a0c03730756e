"""A demo page in the browser: ``python tools/demo.py [MODEL [CHECKPOINT]] ...``.

The ``blip-demo`` command, run from a clone; the code is ``projects/blip/cli/demo.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.demo()
