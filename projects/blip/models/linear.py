"""``nn.Linear`` whose float32 inference on CPU runs on oneDNN.

PyTorch computes float32 linear layers on CPU with its BLAS (MKL). On AMD
processors MKL's kernels stay far below the hardware: measured on a 2-core
AMD EPYC (Zen 5, AVX-512), one thread, MKL reached 30 GMAC/s on the ViT's
577 x 768 x 3072 product where oneDNN (the library behind PyTorch's mkldnn
ops, shipped with every x86 build) reached 60, and on the decoder's few-row
products (one row per beam) MKL read the weights at 3.5 GB/s, oneDNN at 8.
The results equal BLAS's to float rounding (a different summation order).

The oneDNN path is taken only where it is a plain replacement: float32 tensors
on CPU, no autograd (inference), no autocast (which casts for ``F.linear``),
and oneDNN enabled (``torch.backends.mkldnn.flags(enabled=False)`` turns it
off, e.g. to compare with the BLAS path), with a contiguous weight.
Everything else calls ``F.linear``.
Parameter names are ``nn.Linear``'s, so checkpoints are unaffected.
"""

import functools

import torch
import torch.nn.functional as F
from torch import nn


@functools.cache
def onednn_linear_available() -> bool:
    """Whether this PyTorch build has oneDNN's fused linear op and it runs."""
    try:
        op = torch.ops.mkldnn._linear_pointwise
        x, weight, bias = torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4)
        return bool(torch.equal(op(x, weight, bias, 'none', [], ''), F.linear(x, weight, bias)))
    except (AttributeError, RuntimeError):
        return False


def onednn_inference(*tensors: torch.Tensor) -> bool:
    """Whether products of ``tensors`` may run on oneDNN: float32 on CPU, inference, no autocast."""
    return (
        all(t.device.type == 'cpu' and t.dtype == torch.float32 for t in tensors)
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled('cpu')
        and torch.backends.mkldnn.is_available()
        and torch.backends.mkldnn.enabled
        and onednn_linear_available()
    )


def uses_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :class:`Linear` computes ``x @ weight.T`` with oneDNN."""
    return weight.is_contiguous() and onednn_inference(x, weight)


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters) computing float32 CPU inference with oneDNN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if uses_onednn(x, self.weight):
            # oneDNN falls back to a reference kernel, a thousand times slower,
            # for inputs with gaps between rows (e.g. the last position of each row).
            x = x.contiguous()
            return torch.ops.mkldnn._linear_pointwise(x, self.weight, self.bias, 'none', [], '')
        return F.linear(x, self.weight, self.bias)
