"""Image-text contrastive (ITC) head: BLIP's contrastive loss with feature queues."""

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather
from torch import nn

from blip.registry import MODELS


@MODELS.register_module()
class ITCHead(nn.Module):
    """Contrastive loss between image and text features, with momentum distillation.

    Momentum features of earlier batches wait in two queues and serve as extra
    negatives. With distillation the targets mix the momentum encoders'
    softmax similarities (weight ``alpha``) with the ground truth (texts and
    images of the same ``image_id`` are positives), as in BLIP.

    Parameter and buffer names equal mmpretrain's ``ITCHead``. As there, the
    temperature is used as stored, unless ``temperature_range`` is given.

    Args:
        embed_dim: Size of the projected features.
        queue_size: Number of queued momentum features; a multiple of the
            global batch size. 0: no queue, the negatives are the batch's
            own (for training from scratch, where the features change too fast
            for queued ones to stay comparable: the towers then learn to tell
            the batch from the queue instead of images from each other).
        temperature: Initial temperature (learnable).
        use_distill: Mix momentum similarities into the targets.
        alpha: Weight of the momentum similarities (warmed up from 0 by
            ``WarmupParamHook`` during training).
        temperature_range: ``(min, max)``: the loss clamps the temperature into
            it first, as the official BLIP code does at every training step
            (``(0.001, 0.5)``); None: mmpretrain's model, which does not.
    """

    def __init__(
        self,
        embed_dim: int,
        queue_size: int = 57600,
        temperature: float = 0.07,
        use_distill: bool = True,
        alpha: float = 0.4,
        temperature_range: tuple[float, float] | None = None,
    ):
        super().__init__()
        self.temperature_range = tuple(temperature_range) if temperature_range is not None else None
        self.temp = nn.Parameter(temperature * torch.ones([]))
        self.use_distill = use_distill
        self.alpha = alpha
        self.queue_size = queue_size
        self.register_buffer('image_queue', F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('text_queue', F.normalize(torch.randn(embed_dim, queue_size), dim=0))
        self.register_buffer('idx_queue', torch.full((1, queue_size), -100))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    def loss(
        self,
        image_feat: torch.Tensor,
        text_feat: torch.Tensor,
        image_feat_m: torch.Tensor,
        text_feat_m: torch.Tensor,
        image_ids: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """``{'itc_loss'}``: mean of the image-to-text and text-to-image losses.

        Features are L2-normalised ``(B, D)``; ``image_ids`` ``(B,)`` marks the
        pairs that match. The momentum features are enqueued afterwards
        (gathered from every process), so the call changes the queues.
        """
        if self.temperature_range is not None:
            with torch.no_grad():
                self.temp.clamp_(*self.temperature_range)
        image_ids = image_ids.view(-1, 1)
        all_ids = torch.cat([image_ids.t(), self.idx_queue.clone().detach()], dim=1)
        positives = torch.eq(image_ids, all_ids).float()
        targets = positives / positives.sum(1, keepdim=True)
        all_image_feat = torch.cat([image_feat_m.t(), self.image_queue.clone().detach()], dim=1)
        all_text_feat = torch.cat([text_feat_m.t(), self.text_queue.clone().detach()], dim=1)

        targets_i2t = targets_t2i = targets
        if self.use_distill:
            with torch.no_grad():
                sim_i2t_m = image_feat_m @ all_text_feat / self.temp
                sim_t2i_m = text_feat_m @ all_image_feat / self.temp
                targets_i2t = self.alpha * F.softmax(sim_i2t_m, dim=1) + (1 - self.alpha) * targets
                targets_t2i = self.alpha * F.softmax(sim_t2i_m, dim=1) + (1 - self.alpha) * targets

        sim_i2t = image_feat @ all_text_feat / self.temp
        sim_t2i = text_feat @ all_image_feat / self.temp
        loss_i2t = -torch.sum(F.log_softmax(sim_i2t, dim=1) * targets_i2t, dim=1).mean()
        loss_t2i = -torch.sum(F.log_softmax(sim_t2i, dim=1) * targets_t2i, dim=1).mean()
        self.enqueue(image_feat_m, text_feat_m, image_ids)
        return {'itc_loss': (loss_i2t + loss_t2i) / 2}

    @torch.no_grad()
    def enqueue(self, image_feat: torch.Tensor, text_feat: torch.Tensor, image_ids: torch.Tensor) -> None:
        """Replace the oldest queue entries by this step's features of every process."""
        if self.queue_size == 0:
            return
        image_feat = torch.cat(all_gather(image_feat))
        text_feat = torch.cat(all_gather(text_feat))
        image_ids = torch.cat(all_gather(image_ids.view(-1, 1)))
        batch_size = image_feat.shape[0]
        if self.queue_size % batch_size:
            raise ValueError(
                f'ITCHead: queue_size {self.queue_size} is not a multiple of the global '
                f'batch size {batch_size}'
            )
        start = int(self.queue_ptr)
        self.image_queue[:, start : start + batch_size] = image_feat.T
        self.text_queue[:, start : start + batch_size] = text_feat.T
        self.idx_queue[:, start : start + batch_size] = image_ids.T
        self.queue_ptr[0] = (start + batch_size) % self.queue_size
