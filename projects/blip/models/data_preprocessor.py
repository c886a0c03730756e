"""Batch preparation for image-text models: stack, BGR -> RGB, normalise."""

from collections.abc import Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from blip.registry import MODELS


@MODELS.register_module()
class BlipDataPreprocessor(BaseDataPreprocessor):
    """Stack images (``(C, H, W)`` each, or ``(N, C, H, W)`` for image pairs),
    optionally flip BGR to RGB, and normalise with ``mean``/``std``.

    Samples whose input is a list of N images (NLVR pairs) arrive from
    ``pseudo_collate`` as N lists over the batch and are stacked to
    ``(B, N, C, H, W)``.

    Data samples pass through unchanged.

    Args:
        mean: Per-channel mean, in the 0-255 pixel scale.
        std: Per-channel standard deviation.
        to_rgb: Reverse the channel order (images are loaded as BGR).
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        to_rgb: bool = False,
    ):
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError('BlipDataPreprocessor: give both mean and std, or neither')
        self.to_rgb = to_rgb
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), False)
            self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), False)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        images = data['inputs']
        if isinstance(images, (list, tuple)) and images and isinstance(images[0], (list, tuple)):
            # Samples whose input is a list (NLVR's image pairs), collated by
            # mmengine's pseudo_collate: one list per position, each over the
            # batch. Stack to (B, N, C, H, W).
            images = torch.stack([torch.stack(list(position)) for position in images], dim=1)
        elif isinstance(images, (list, tuple)):
            images = torch.stack(list(images))
        if self.to_rgb and images.shape[-3] == 3:
            images = images.flip(-3)
        images = images.float()
        if self.normalize:
            images = (images - self.mean) / self.std
        return {'images': images, 'data_samples': data.get('data_samples')}
