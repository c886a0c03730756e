"""Strip a training checkpoint for release: ``python tools/publish_model.py SRC DST [--fp16]``.

The ``blip-publish-model`` command, run from a clone; the code is ``projects/blip/cli/publish_model.py``.
"""

import _common  # noqa: F401  (makes `blip` importable from a clone)

if __name__ == '__main__':
    from blip.cli import commands

    commands.publish_model()
