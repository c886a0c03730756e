"""Generate the shapes benchmark: ``python tools/generate_shapes.py data/shapes [--seed 0]``.

The ``blip-generate-shapes`` command, run from a clone; the code is ``projects/blip/cli/generate_shapes.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.generate_shapes()
