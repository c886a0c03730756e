"""Convert an official BLIP checkpoint: ``python tools/convert_official_blip.py SRC DST [--task caption]``.

The ``blip-convert-official`` command, run from a clone; the code is
``projects/blip/cli/convert_official_blip.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.convert_official()
