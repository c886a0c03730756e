"""Image-text matching (ITM) head: does this text describe this image?"""

import torch
import torch.nn.functional as F
from torch import nn

from blip.registry import MODELS


class Pooler(nn.Module):
    """Dense + tanh on the first token (BERT's pooler)."""

    def __init__(self, hidden_size: int):
        super().__init__()
        self.dense = nn.Linear(hidden_size, hidden_size)
        self.activation = nn.Tanh()

    def forward(self, first_token: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(first_token))


@MODELS.register_module()
class ITMHead(nn.Module):
    """Two-way classifier (no match / match) on the image-grounded text's first token.

    Parameter names equal mmpretrain's ``ITMHead`` (``fc``, and ``pooler.dense``
    when ``with_pooler``); BLIP's retrieval models have no pooler.

    Args:
        hidden_size: Width of the text transformer.
        with_pooler: Apply BERT's pooler before the classifier.
    """

    def __init__(self, hidden_size: int, with_pooler: bool = True):
        super().__init__()
        self.pooler = Pooler(hidden_size) if with_pooler else nn.Identity()
        self.fc = nn.Linear(hidden_size, 2)

    def forward(self, first_token: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 2)`` from the first-token states ``(B, C)``; class 1 is "match"."""
        return self.fc(self.pooler(first_token))

    def loss(self, first_token: torch.Tensor, is_matched: torch.Tensor) -> dict[str, torch.Tensor]:
        """``{'itm_loss'}``: mean cross-entropy against ``is_matched`` ``(B,)``."""
        return {'itm_loss': F.cross_entropy(self(first_token), is_matched.long())}
