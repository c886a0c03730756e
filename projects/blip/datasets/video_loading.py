"""Load uniformly sampled frames of a video file as BGR images (PyAV, an optional extra).

Install the reader with ``pip install av`` (or the ``video`` extra of this
package). Without it, loading a video raises an ``ImportError`` that says so;
everything else in the package works without it.
"""

import io

import mmengine.fileio as fileio
import numpy as np
from mmcv.transforms import BaseTransform

from blip.registry import TRANSFORMS


class VideoLoadError(OSError):
    """A video file could not be read or decoded; the message names it."""


def uniform_frame_indices(num_video_frames: int, num_frames: int) -> list[int]:
    """The frames BLIP's video evaluation reads: ``num_frames`` evenly spaced from the start.

    BLIP samples ``np.arange(0, n, n / num_frames, dtype=int)``, which numpy
    computes with the integer step ``n // num_frames``: frames ``0, s, 2s, ...``.
    For videos shorter than ``num_frames`` (where that step is 0 and BLIP
    would read frame 0 only) the frames spread as ``i * n // num_frames``.

    Args:
        num_video_frames: Frames in the video (``n``).
        num_frames: Frames to sample.
    """
    if num_video_frames <= 0:
        raise ValueError('the video has no frames')
    step = num_video_frames // num_frames
    if step == 0:
        return [i * num_video_frames // num_frames for i in range(num_frames)]
    return [i * step for i in range(num_frames)]


def _pyav():
    try:
        import av
    except ImportError as error:
        raise ImportError(
            'reading videos needs PyAV: pip install av (or pip install "blip-openmmlab[video]")'
        ) from error
    return av


def read_video_frames(
    content: bytes, num_frames: int, path: str = '<bytes>'
) -> tuple[list[np.ndarray], list[int], int]:
    """Decode the uniformly sampled frames of an encoded video.

    Args:
        content: The video file's bytes (mp4, webm, avi, ...).
        num_frames: Frames to sample (see :func:`uniform_frame_indices`).
        path: The file, for error messages.

    Returns:
        The frames (``H x W x 3`` BGR ``uint8``), their indices, and the number
        of frames of the video.
    """
    av = _pyav()
    try:
        with av.open(io.BytesIO(content)) as container:
            if not container.streams.video:
                raise VideoLoadError(f'no video stream in {path}')
            stream = container.streams.video[0]
            total = stream.frames or sum(1 for packet in container.demux(stream) if packet.size)
            indices = uniform_frame_indices(total, num_frames)
            container.seek(0)
            wanted, frames, last = set(indices), {}, None
            for number, frame in enumerate(container.decode(stream)):
                last = number
                if number in wanted:
                    frames[number] = frame.to_ndarray(format='bgr24')
                if number >= indices[-1]:
                    break
    except av.error.FFmpegError as error:
        raise VideoLoadError(f'cannot decode video {path}: {error}') from error
    if not frames:
        raise VideoLoadError(f'no frame could be decoded from {path}')
    # The container may announce more frames than it holds: repeat the last one read.
    indices = [number if number in frames else max(frames) for number in indices]
    return [frames[number] for number in indices], indices, max(total, (last or 0) + 1)


@TRANSFORMS.register_module()
class LoadVideoFrames(BaseTransform):
    """Read ``num_frames`` uniformly sampled frames of ``results['video_path']``.

    Adds ``img`` (a list of ``H x W x 3`` BGR ``uint8`` frames, like
    ``LoadImageFromFile`` gives one image), ``img_shape``, ``ori_shape``,
    ``frame_indices`` and ``num_video_frames``. Resize the frames with
    ``ApplyToList(scatter_key='img', transforms=[...Resize...], ...)``; the
    packed frames become a ``(F, 3, H, W)`` input, which the retrieval model
    encodes frame by frame.

    Args:
        num_frames: Frames per video (BLIP: 8 for MSRVTT).
    """

    def __init__(self, num_frames: int = 8):
        if num_frames < 1:
            raise ValueError(f'LoadVideoFrames: num_frames must be at least 1, got {num_frames}')
        self.num_frames = num_frames

    def transform(self, results: dict) -> dict:
        path = results['video_path']
        try:
            content = fileio.get(path)
        except FileNotFoundError as error:
            raise FileNotFoundError(f'video file not found: {path}') from error
        frames, indices, total = read_video_frames(content, self.num_frames, path)
        results.update(
            img=frames,
            img_shape=frames[0].shape[:2],
            ori_shape=frames[0].shape[:2],
            frame_indices=indices,
            num_video_frames=total,
        )
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(num_frames={self.num_frames})'
