"""Read JSON annotation files with errors that name the file and the key."""

import json
from collections.abc import Mapping
from typing import Any

import mmengine.fileio as fileio


class AnnotationError(ValueError):
    """An annotation file does not have the expected structure."""


def load_json(path: str) -> Any:
    """Load a JSON annotation file.

    Args:
        path: Local path or any path an mmengine file backend reads.

    Returns:
        The decoded JSON value.

    Raises:
        FileNotFoundError: There is no file at ``path``.
        AnnotationError: ``path`` is empty or the file is not valid JSON.
    """
    if not path:
        raise AnnotationError('no annotation file given (`ann_file` is empty)')
    try:
        text = fileio.get_text(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f'annotation file not found: {path}') from error
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise AnnotationError(f'annotation file {path} is not valid JSON: {error}') from error


def require(record: Any, key: str, path: str, where: str) -> Any:
    """Return ``record[key]``, or fail naming the key, the record and the file.

    Args:
        record: A JSON object read from ``path``.
        key: The key that must be present.
        path: The annotation file, for the error message.
        where: Which record this is, e.g. ``'image 3'``.

    Raises:
        AnnotationError: ``record`` is not an object or lacks ``key``.
    """
    if not isinstance(record, Mapping):
        raise AnnotationError(
            f'annotation file {path}: {where} should be a JSON object, got {type(record).__name__}'
        )
    if key not in record:
        raise AnnotationError(f"annotation file {path}: {where} has no '{key}' key")
    return record[key]


def require_list(value: Any, path: str, what: str) -> list:
    """Check that ``value`` is a JSON list, naming ``what`` and the file if not."""
    if not isinstance(value, list):
        raise AnnotationError(f'annotation file {path}: {what} should be a list, got {type(value).__name__}')
    return value
