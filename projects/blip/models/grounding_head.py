"""Box head of BLIP grounding: a text decoder that writes a box as four bin tokens."""

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import box_convert, generalized_box_iou

from blip.registry import MODELS, TOKENIZER

#: Tokens that start the box (``[unused339]``) and the first bin (``[unused340]``).
PREFIX_TOKEN = '[unused339]'
NUM_BOX_TOKENS = 4


def sincos_bin_embeddings(num_tokens: int, dims: int, temperature: float = 100.0) -> torch.Tensor:
    """1-D sine-cosine codes (num_tokens, dims) of the bin indices 0 ... num_tokens - 1.

    Half the channels are sines, half cosines, of ``dims / 2`` frequencies
    ``1 / temperature ** (k / (dims / 2))``: neighbouring bins get similar codes.
    The default suits tens of bins (with the transformer's usual 10000 the tiny
    shapes model's 32 bins ended its schedule less accurate).
    """
    if dims % 2:
        raise ValueError(f'sine-cosine bin embeddings need an even hidden size, got {dims}')
    omega = 1.0 / temperature ** (torch.arange(dims // 2, dtype=torch.float64) / (dims // 2))
    angles = torch.arange(num_tokens, dtype=torch.float64)[:, None] * omega[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1).float()


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
        bin_embed_init: For training from scratch: ``'sincos'`` starts the
            bin tokens' embeddings (which are also the decoder's output
            weights for them) from 1-D sine-cosine codes of the bin index
            (``sincos_bin_embeddings``), so that neighbouring bins start
            close and a prediction one bin off costs little from the first
            step. ``None`` (default) keeps the decoder's initialisation.
            Loaded checkpoints overwrite either.
    """

    def __init__(
        self,
        decoder: dict,
        tokenizer,
        box_l1_loss_coeff: float = 4.0,
        box_giou_loss_coeff: float = 2.0,
        num_bins: int = 640,
        bin_embed_init: str | None = None,
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
        if bin_embed_init == 'sincos':
            embeddings = self.decoder.bert.embeddings.word_embeddings.weight
            with torch.no_grad():
                embeddings[bin_ids[0] : bin_ids[-1] + 1] = sincos_bin_embeddings(
                    num_bins + 1, embeddings.shape[1]
                )
        elif bin_embed_init is not None:
            raise ValueError(
                f"GroundingHead: bin_embed_init must be None or 'sincos', got {bin_embed_init!r}"
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

    def bin_logits(
        self, tokens: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor
    ) -> torch.Tensor:
        """Next-token logits (B, L, num_bins + 1) of the bin tokens alone, for decoder inputs ``tokens``.

        They equal :meth:`box_logits` on the bins. The mask gives every other
        token -10000, a probability of exactly 0 in float32, so a softmax over
        the bins is the masked softmax over the vocabulary, with the same
        gradients; the loss skips the vocabulary-wide product, a third of a
        training step of the tiny shapes model.
        """
        hidden = self.decoder.bert(tokens, image_embeds=memory, image_mask=memory_mask, causal=True)
        prediction = self.decoder.cls.predictions
        bins = slice(self.bin_start_id, self.bin_start_id + self.num_bins + 1)
        return F.linear(prediction.transform(hidden), prediction.decoder.weight[bins], prediction.bias[bins])

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
        logits = self.bin_logits(tokens, memory, memory_mask)[:, :-1]
        bins = targets - self.bin_start_id
        token_loss = F.cross_entropy(logits.flatten(0, 1), bins.flatten(), reduction='none')
        with torch.no_grad():
            predicted = self.boxes_from_tokens(logits.argmax(dim=-1) + self.bin_start_id)
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
