"""The command-line tools, one module each (``python -m blip.cli.<tool>``).

Installed, they are the ``blip-<tool>`` commands (:mod:`blip.cli.commands`); in a
clone, ``python tools/<tool>.py`` runs the same modules.
"""
