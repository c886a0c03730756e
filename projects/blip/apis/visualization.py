"""Pictures of results: the image(s) of a sample with its prediction drawn on them.

Every function takes and returns BGR ``uint8`` arrays (as ``mmcv.imread``
gives); the inferencers' ``out=`` and ``tools/infer.py --out`` save them, the
demo shows them. Images are enlarged first when small, so the text stays
legible; text goes in a panel below the image (grounding labels its box).
"""

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Drawings are at least this wide (small images are enlarged) and thumbnails this high.
MIN_WIDTH = 384
THUMB_HEIGHT = 160
GREEN, RED, GREY = (40, 160, 40), (40, 40, 200), (90, 90, 90)  # BGR


def enlarge(image: np.ndarray, min_width: int = MIN_WIDTH) -> tuple[np.ndarray, float]:
    """``image`` scaled up to ``min_width`` pixels wide (unchanged if wider), and the scale."""
    scale = max(1.0, min_width / image.shape[1])
    if scale == 1.0:
        return image, scale
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return cv2.resize(image, size, interpolation=cv2.INTER_CUBIC), scale


def fit_height(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` resized to ``height`` pixels high, keeping its aspect ratio."""
    width = max(1, round(image.shape[1] * height / image.shape[0]))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def text_panel(
    width: int, lines: Sequence[str | tuple[str, tuple]], font_size: int | None = None
) -> np.ndarray:
    """A white panel ``width`` pixels wide with ``lines`` wrapped to fit.

    A line is a string (black) or ``(text, bgr_colour)``.
    """
    size = font_size or max(14, min(28, width // 20))
    font = _font(size)
    chars = max(8, int(width / (0.55 * size)))
    wrapped = []
    for line in lines:
        text, colour = (line, (0, 0, 0)) if isinstance(line, str) else line
        for part in textwrap.wrap(text, chars) or ['']:
            wrapped.append((part, colour))
    step = round(size * 1.35)
    panel = Image.new('RGB', (width, step * len(wrapped) + size // 2 + 4), 'white')
    draw = ImageDraw.Draw(panel)
    for row, (text, (b, g, r)) in enumerate(wrapped):
        draw.text((size // 2, size // 4 + row * step), text, fill=(r, g, b), font=font)
    return np.ascontiguousarray(np.asarray(panel)[..., ::-1])


def stack(images: Sequence[np.ndarray], axis: int = 0, gap: int = 0) -> np.ndarray:
    """Images above each other (``axis=0``, widths padded) or side by side (``axis=1``, heights padded)."""
    other = 1 - axis
    extent = max(image.shape[other] for image in images)
    parts = []
    for index, image in enumerate(images):
        pad = [(0, 0), (0, 0), (0, 0)]
        pad[other] = (0, extent - image.shape[other])
        parts.append(np.pad(image, pad, constant_values=255))
        if gap and index < len(images) - 1:
            shape = [0, 0, 3]
            shape[axis], shape[other] = gap, extent
            parts.append(np.full(shape, 255, np.uint8))
    return np.concatenate(parts, axis=axis)


def with_text(image: np.ndarray, lines: Sequence[str | tuple[str, tuple]]) -> np.ndarray:
    """``image`` (enlarged if small) above a panel with ``lines``."""
    image, _ = enlarge(image)
    return stack([image, text_panel(image.shape[1], lines)])


def draw_box(image: np.ndarray, box: Sequence[float], label: str = '') -> np.ndarray:
    """A copy of the BGR ``image`` with ``box`` (``xyxy`` pixels) drawn, and ``label`` above it."""
    canvas = np.ascontiguousarray(image).copy()
    thickness = max(2, round(max(canvas.shape[:2]) / 200))
    x0, y0, x1, y1 = (round(float(v)) for v in box)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 200, 0), thickness)
    if label:
        scale = thickness / 3
        (width, height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        top = max(y0 - height - baseline - thickness, 0)
        left = max(min(x0, canvas.shape[1] - width), 0)  # the label stays inside the image
        cv2.rectangle(canvas, (left, top), (left + width, top + height + baseline), (0, 200, 0), -1)
        cv2.putText(canvas, label, (left, top + height), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1)
    return canvas


def draw_grounding(image: np.ndarray, box: Sequence[float], expression: str) -> np.ndarray:
    """The box of a referring expression, labelled with it, on the image (enlarged if small)."""
    large, scale = enlarge(image)
    return draw_box(large, [v * scale for v in box], expression)


def draw_pair(images: Sequence[np.ndarray], lines: Sequence[str | tuple[str, tuple]]) -> np.ndarray:
    """Two images side by side at one height, with ``lines`` below."""
    height = max(THUMB_HEIGHT * 2, max(image.shape[0] for image in images))
    row = stack([fit_height(image, height) for image in images], axis=1, gap=8)
    return stack([row, text_panel(row.shape[1], lines)])


def draw_ranked_images(query: str, images: Sequence[np.ndarray], labels: Sequence[str]) -> np.ndarray:
    """A text query above its best-matching images, each with a label (rank and score) below."""
    tiles = []
    for image, label in zip(images, labels):
        thumb = fit_height(image, THUMB_HEIGHT)
        tiles.append(stack([thumb, text_panel(max(thumb.shape[1], 120), [label], font_size=14)]))
    row = stack(tiles, axis=1, gap=8)
    return stack([text_panel(max(row.shape[1], MIN_WIDTH), [query]), row])


def save_image(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write a BGR drawing; the folder is created. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f'could not write the drawing to {path} (is the file extension an image type?)')
    return path


def drawing_paths(out: str | os.PathLike | Sequence, names: Sequence[str]) -> list[Path]:
    """Where the drawings of ``names`` go: ``out`` itself for one, ``out/<index>_<name>.png``
    for several, or ``out`` when it is already a list of one path per drawing."""
    if isinstance(out, (list, tuple)):
        if len(out) != len(names):
            raise ValueError(f'{len(names)} drawings but {len(out)} paths in out=')
        return [Path(path) for path in out]
    if len(names) == 1:
        return [Path(out)]
    return [Path(out) / f'{index}_{name}.png' for index, name in enumerate(names)]
