"""Sequence generation head: the text decoder, its training loss and its decoding."""

import torch
import torch.nn.functional as F
from torch import nn

from blip.registry import MODELS

from .generation import GenerationConfig, generate

#: Label of the tokens left out of a language-model loss (``F.cross_entropy``'s default).
IGNORE_INDEX = -100


def lm_loss(
    decoder: nn.Module,
    input_ids: torch.Tensor,
    labels: torch.Tensor,
    image_embeds: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """Mean (label-smoothed) cross-entropy of each next token of a :class:`TextDecoder`.

    ``labels`` are aligned with ``input_ids``: the decoder's output at
    position ``i - 1`` predicts ``labels[:, i]``; :data:`IGNORE_INDEX` labels
    (prompt, padding) are left out. The LM head runs only where there is a
    label: over BERT's 30524 words it is most of the work.
    """
    states = decoder.bert(input_ids, attention_mask, image_embeds=image_embeds, causal=True)
    targets = labels[:, 1:]
    kept = targets != IGNORE_INDEX
    logits = decoder.cls(states[:, :-1][kept])
    return F.cross_entropy(logits, targets[kept], label_smoothing=label_smoothing)


@MODELS.register_module()
class SeqGenerationHead(nn.Module):
    """Teacher-forced LM loss and generation over a :class:`TextDecoder`.

    Args:
        decoder: Config of the text decoder (``TextDecoder``).
        label_smoothing: Label smoothing of the token cross-entropy (BLIP: 0.1).
    """

    def __init__(self, decoder: dict, label_smoothing: float = 0.1):
        super().__init__()
        self.decoder = MODELS.build(decoder)
        self.label_smoothing = label_smoothing

    def loss(
        self,
        input_ids: torch.Tensor,
        image_embeds: torch.Tensor,
        labels: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Mean label-smoothed cross-entropy of each next token over the labels that
        are not :data:`IGNORE_INDEX`.

        ``labels`` are aligned with ``input_ids`` (position ``i`` is the target of
        the logits at ``i - 1``); the shift happens here.
        """
        loss = lm_loss(self.decoder, input_ids, labels, image_embeds, attention_mask, self.label_smoothing)
        return {'seq_gen_lm_loss': loss}

    @torch.no_grad()
    def generate(
        self,
        prompt_ids: torch.Tensor,
        image_embeds: torch.Tensor,
        config: GenerationConfig,
        eos_token_id: int,
        pad_token_id: int,
        image_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Generate continuations of ``prompt_ids`` (B, L0) for each image (B, N, C)."""
        decoder = self.decoder.incremental(image_embeds, image_mask, max_length=config.max_length)
        return generate(decoder, prompt_ids, config, eos_token_id, pad_token_id)
