"""Where pycocoevalcap's Java tools live, found without importing its scorers."""

import importlib.util
from pathlib import Path


def pycocoevalcap_dir() -> Path:
    """Return the folder of the installed ``pycocoevalcap`` package.

    Raises:
        ModuleNotFoundError: pycocoevalcap is not installed.
    """
    spec = importlib.util.find_spec('pycocoevalcap')
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError('caption metrics need pycocoevalcap: pip install pycocoevalcap')
    return Path(next(iter(spec.submodule_search_locations)))


def java_not_found(java: str) -> RuntimeError:
    """The error raised when the Java executable cannot be started."""
    return RuntimeError(
        f'cannot run {java!r}: caption metrics (PTB tokenizer, METEOR, SPICE) need a Java runtime on PATH'
    )
