"""Scaled dot-product attention, as a parameter-free module the towers hold.

Both towers compute attention through a :class:`ScaledDotProduct` submodule
(``F.scaled_dot_product_attention``). It holds no weights, so replacing it
changes no checkpoint key: :func:`blip.models.cpu_inference.optimize` swaps in
faster CPU products for inference, the way transformers picks an
``attn_implementation``.
"""

import torch
import torch.nn.functional as F
from torch import nn


class ScaledDotProduct(nn.Module):
    """``softmax(query @ key.T / sqrt(d) + mask) @ value``, with dropout while training.

    Args:
        dropout: Dropout probability of the attention weights (training only).
    """

    def __init__(self, dropout: float = 0.0):
        super().__init__()
        self.dropout = dropout

    def extra_repr(self) -> str:
        return f'dropout={self.dropout}'

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Attend from ``query`` (B, H, L, d) to ``key``/``value`` (B, H, S, d).

        Args:
            mask: Boolean, True where attention is allowed, broadcastable to
                (B, H, L, S); or None.
            is_causal: Causal self-attention (no mask given).
        """
        dropout = self.dropout if self.training else 0.0
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, is_causal=is_causal
        )
