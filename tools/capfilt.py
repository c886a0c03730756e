"""Bootstrap a corpus with CapFilt: ``python tools/capfilt.py CORPUS OUT --captioner ... --filter ...``.

The ``blip-capfilt`` command, run from a clone; the code is ``projects/blip/cli/capfilt.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.capfilt()
