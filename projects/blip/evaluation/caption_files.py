"""Caption files in COCO format: ground truth in, predictions out."""

import json
import tempfile
import time
from collections.abc import Hashable
from pathlib import Path

import mmengine.fileio as fileio
from mmengine.logging import MMLogger


def load_coco_captions(path: str) -> dict[Hashable, list[str]]:
    """Read a COCO-format caption ground-truth file.

    The file is ``{annotations: [{image_id, caption, ...}], images: [{id}]}``
    (``images`` optional), like ``coco_karpathy_val_gt.json`` or
    ``nocaps_val_4500_captions.json``.

    Returns:
        The captions of each image, images in the order of ``images`` (the
        order pycocoevalcap evaluates them in), then any others in order of
        first annotation.

    Raises:
        FileNotFoundError: There is no file at ``path``.
        ValueError: The file is not JSON or lacks ``annotations``,
            ``image_id`` or ``caption``; the message names the file.
    """
    try:
        content = json.loads(fileio.get_text(path))
    except FileNotFoundError as error:
        raise FileNotFoundError(f'caption ground-truth file not found: {path}') from error
    except json.JSONDecodeError as error:
        raise ValueError(f'caption ground-truth file {path} is not JSON: {error}') from error
    if not isinstance(content, dict) or 'annotations' not in content:
        raise ValueError(f"caption ground-truth file {path} has no 'annotations'")
    captions: dict[Hashable, list[str]] = {
        image['id']: [] for image in content.get('images', []) if 'id' in image
    }
    for index, annotation in enumerate(content['annotations']):
        for key in ('image_id', 'caption'):
            if key not in annotation:
                raise ValueError(f"caption ground-truth file {path}: annotation {index} has no '{key}' key")
        captions.setdefault(annotation['image_id'], []).append(annotation['caption'])
    return captions


def prediction_dir(output_dir: str | None) -> Path:
    """Choose the folder for a prediction file.

    ``output_dir`` when given, else the folder of the current mmengine log file
    (the run's log folder), else a new temporary folder (with a warning: it is
    not kept with the run).
    """
    if output_dir is not None:
        folder = Path(output_dir)
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    log_file = getattr(MMLogger.get_current_instance(), 'log_file', None)
    if log_file:
        return Path(log_file).parent
    folder = Path(tempfile.mkdtemp(prefix='blip_captions_'))
    MMLogger.get_current_instance().warning(
        f'No output_dir given and no log folder: caption predictions go to the temporary folder {folder}'
    )
    return folder


def save_predictions(
    predictions: dict[Hashable, str], folder: Path, name: str = 'caption_predictions'
) -> Path:
    """Write ``[{image_id, caption}]`` (COCO results format) to a new file.

    The file is ``<name>_<date>_<time>.json`` in ``folder``; a number is added
    when that name is taken, so no earlier file is overwritten.

    Returns:
        The path of the written file.
    """
    stem = f'{name}_{time.strftime("%Y%m%d_%H%M%S")}'
    text = json.dumps([dict(image_id=i, caption=c) for i, c in predictions.items()])
    number = 0
    while True:
        path = folder / (f'{stem}.json' if number == 0 else f'{stem}_{number}.json')
        try:
            with open(path, 'x') as file:
                file.write(text)
            return path
        except FileExistsError:
            number += 1
