"""Box head of BLIP grounding: a text decoder that writes a box as four bin tokens."""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou

from blip.registry import MODELS, TOKENIZER

#: Tokens that start the box (``[unused339]``) and the first bin (``[unused340]``).
PREFIX_TOKEN = '[unused339]'
NUM_BOX_TOKENS = 4


@MODELS.register_module()
class GroundingHead(nn.Module):
    """Decode a box ``(cx, cy, w, h)`` as four tokens, one per coordinate.

    A coordinate ``c`` in ``[0, 1]`` is the token ``[unused{340 + int(c * num_bins)}]``
    (ids 345 ... 985 in BERT's vocabulary for 640 bins). The decoder starts
    from ``[unused339]`` and cross-attends to the image tokens followed by the
    multimodal text states. ``bbox_prob_mask`` (0 on the bin tokens, -10000
    elsewhere) keeps every prediction on a bin. This is mmpretrain's grounding
    head, with its buffers and losses.

    Args:
        decoder: Config of the text decoder (``TextDecoder``).
        tokenizer: The tokenizer (or its config); gives the bin token ids.
        box_l1_loss_coeff: Weight of the L1 term in the logged ``loss_seq``.
        box_giou_loss_coeff: Weight of the (1 - GIoU) term in ``loss_seq``.
        num_bins: Bins per coordinate (mmpretrain's ``image_res``).
    """

    def __init__(
        self,
        decoder: dict,
        tokenizer,
        box_l1_loss_coeff: float = 4.0,
        box_giou_loss_coeff: float = 2.0,
        num_bins: int = 640,
    ):
        super().__init__()
        self.decoder = MODELS.build(decoder)
        if isinstance(tokenizer, dict):
            tokenizer = TOKENIZER.build(tokenizer)
        self.box_l1_loss_coeff = box_l1_loss_coeff
        self.box_giou_loss_coeff = box_giou_loss_coeff
        self.num_bins = num_bins
        prefix_ids = tokenizer.convert_tokens_to_ids([PREFIX_TOKEN])
        bin_ids = tokenizer.convert_tokens_to_ids([f'[unused{340 + i}]' for i in range(num_bins + 1)])
        if bin_ids != list(range(bin_ids[0], bin_ids[0] + num_bins + 1)):
            raise ValueError(
                f'GroundingHead: the tokenizer has no {num_bins + 1} consecutive [unusedN] tokens'
            )
        # Saved in checkpoints (mmpretrain's buffers): a checkpoint fixes its bins.
        self.register_buffer('prefix_ids', torch.tensor(prefix_ids))
        self.register_buffer('target_ids', torch.tensor(bin_ids))
        outside_bins = torch.ones(len(tokenizer))
        outside_bins[bin_ids[0] : bin_ids[-1] + 1] = 0.0
        mask = outside_bins * -10000.0  # -0.0 on the bins, bit for bit as mmpretrain builds it
        self.register_buffer('bbox_prob_mask', mask)

    @property
    def bin_start_id(self) -> int:
        return int(self.target_ids[0])

    def box_tokens(self, boxes: torch.Tensor) -> torch.Tensor:
        """Token ids (B, 4) of normalised ``cxcywh`` boxes (B, 4); coordinates are truncated."""
        return (boxes * self.num_bins).long() + self.bin_start_id

    def boxes_from_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Normalised ``cxcywh`` boxes (B, 4) of bin token ids (B, 4)."""
        return (tokens - self.bin_start_id) / self.num_bins

    def _start_ids(self, batch_size: int) -> torch.Tensor:
        return self.prefix_ids.view(1, 1).expand(batch_size, 1)

    def box_logits(
        self, tokens: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """Masked next-token logits (B, L, vocab) for decoder inputs ``tokens`` (prefix first)."""
        logits = self.decoder(tokens, image_embeds=memory, image_mask=memory_mask)
        return logits + self.bbox_prob_mask

    def loss(
        self, memory: torch.Tensor, memory_mask: torch.Tensor, boxes: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Losses for target boxes ``boxes`` (B, 4), normalised ``cxcywh``.

        Args:
            memory: What the decoder cross-attends to (B, N, C): image tokens
                followed by the multimodal text states.
            memory_mask: 1/0 mask over ``memory`` (B, N).
            boxes: Target boxes in ``[0, 1]``.

        Returns:
            ``loss_seq_init``: mean token cross-entropy of the 4 box tokens (the
            only term with a gradient); ``loss_seq`` and ``loss`` (equal): the
            cross-entropy weighted by the L1 and GIoU errors of the greedy
            teacher-forced boxes, without gradient, as mmpretrain logs them;
            ``box_l1`` and ``box_giou``: those weights.
        """
        targets = self.box_tokens(boxes)
        tokens = torch.cat([self._start_ids(boxes.shape[0]), targets], dim=1)
        logits = self.box_logits(tokens, memory, memory_mask)[:, :-1]
        token_loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction='none')
        with torch.no_grad():
            predicted = self.boxes_from_tokens(logits.argmax(dim=-1))
            weight_l1 = F.l1_loss(predicted, boxes, reduction='none').clamp(0, 5) * self.box_l1_loss_coeff
            giou = generalized_box_iou(
                box_convert(predicted, 'cxcywh', 'xyxy'), box_convert(boxes, 'cxcywh', 'xyxy')
            ).diagonal()
            weight_giou = (1 - giou) * self.box_giou_loss_coeff
            # mmpretrain multiplies (B, 1, 4) by (B, 4) and then by (B, 1), which
            # broadcasts to (B, B, 4): every sample's token loss is weighted by
            # every sample's box errors. Kept as is so the logged loss equals the
            # released training's; it has no gradient, so training is unaffected.
            weighted = token_loss.view(-1, 1, NUM_BOX_TOKENS) * weight_l1 * weight_giou.unsqueeze(1)
        loss_seq = weighted.mean()
        return {
            'loss_seq': loss_seq,
            'loss_seq_init': token_loss.mean(),
            'loss': loss_seq,
            'box_l1': weight_l1.mean(),
            'box_giou': weight_giou.mean(),
        }

    @torch.no_grad()
    def predict_tokens(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        """The 4 greedy bin tokens (B, 4) of each sample."""
        decoder = self.decoder.incremental(memory, memory_mask, max_length=NUM_BOX_TOKENS + 1)
        tokens = [self._start_ids(memory.shape[0])]
        for _ in range(NUM_BOX_TOKENS):
            logits = decoder.step(tokens[-1]) + self.bbox_prob_mask
            tokens.append(logits.argmax(dim=-1, keepdim=True))
        return torch.cat(tokens[1:], dim=1)

    @torch.no_grad()
    def predict(self, memory: torch.Tensor, memory_mask: torch.Tensor) -> torch.Tensor:
        """Predicted boxes (B, 4): normalised ``xyxy``, clipped to ``[0, 1]``."""
        boxes = self.boxes_from_tokens(self.predict_tokens(memory, memory_mask))
        return box_convert(boxes, 'cxcywh', 'xyxy').clamp(0, 1)
