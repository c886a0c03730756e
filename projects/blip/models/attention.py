"""Scaled dot-product attention, with CPU inference over many keys routed to faster products.

PyTorch's fused CPU kernel (``F.scaled_dot_product_attention``) is slower
than plain products when there are many keys. Measured on a 2-core AMD EPYC
(Zen 5), one thread, per image:

* the ViT's self-attention (577 tokens, 12 heads of 64) per layer: fused 11.6
  ms in float32, the two products of each head by oneDNN 6.7 ms (with two
  threads 7.1 and 4.3 ms); in bfloat16 fused 13.5 ms, ``matmul`` +
  ``softmax`` + ``matmul`` (oneDNN's bfloat16 products) 5.6 ms;
* the decoder's cross-attention (the beams' queries against 577 image
  tokens) per layer and step, batch 8: fused 2.4 ms, ``matmul`` + ``softmax``
  + ``matmul`` 1.9 ms, which is the time to read the keys and values.

Everything else (training, dropout, causal masks, few keys, GPUs) takes the
fused kernel. The results equal the fused kernel's to float rounding.
"""

import os

import torch
import torch.nn.functional as F

from .linear import onednn_inference

#: Fewer keys than this: the fused kernel (decoder self-attention, short texts).
MANY_KEYS = 128

#: More threads than this: the fused kernel, which splits images and heads
#: among the threads, where the per-head loop splits each head's small product
#: (measured with one and two threads only; with many threads each product
#: would be mostly the threads' synchronisation).
PER_HEAD_MAX_THREADS = 4


def attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: float = 0.0,
    is_causal: bool = False,
) -> torch.Tensor:
    """``F.scaled_dot_product_attention(query, key, value, mask, dropout, is_causal)``.

    Args:
        query: (B, H, L, d).
        key: (B, H, S, d).
        value: (B, H, S, d).
        mask: Boolean, True where attention is allowed, broadcastable to
            (B, H, L, S); or None.
        dropout: Attention dropout probability (training).
        is_causal: Causal self-attention.
    """
    fused = (
        query.device.type != 'cpu'
        or torch.is_grad_enabled()
        or dropout > 0
        or is_causal
        or key.shape[-2] < MANY_KEYS
        or (mask is not None and mask.dtype != torch.bool)
    )
    if fused:
        return F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask, dropout_p=dropout, is_causal=is_causal
        )
    per_head = mask is None and query.shape[-2] >= MANY_KEYS and _per_head_threads()
    if per_head and onednn_inference(query, key, value):
        return _per_head_onednn(query, key, value)
    if mask is None and query.shape[-2] >= MANY_KEYS and query.dtype == torch.float32:
        return F.scaled_dot_product_attention(query, key, value)
    scores = torch.matmul(query * query.shape[-1] ** -0.5, key.transpose(-1, -2))
    if mask is not None:
        scores = scores.masked_fill(~mask, -float('inf'))
    return torch.matmul(scores.softmax(dim=-1), value)


def _per_head_threads() -> bool:
    """Whether this process's threads suit the per-head loop: few, and on cores of their own.

    Each of the loop's small products is a parallel region whose threads wait
    for each other. Two processes sharing cores with more threads than the
    cores (e.g. two ranks with two threads each on two cores) make every region
    wait for a descheduled thread: measured 3x slower than the fused kernel
    (one region per call). A single process is not hurt by other work on the
    machine: with another two-thread job on the 2-core EPYC the loop still
    took 8.9 ms per ViT layer against the fused kernel's 16.6.
    """
    threads = torch.get_num_threads()
    if threads == 1:
        return True
    if threads > PER_HEAD_MAX_THREADS:
        return False
    local_processes = int(os.environ.get('LOCAL_WORLD_SIZE', '1'))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1
    return threads * local_processes <= cores


def _per_head_onednn(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    # oneDNN has no batched product: one pair of products per image and head
    # (as a linear layer: x @ weight.T), large enough to amortise the loop.
    # Contiguous heads: oneDNN's kernel for rows with gaps between them is a
    # reference one, a thousand times slower.
    product = torch.ops.mkldnn._linear_pointwise
    query = query.contiguous() * query.shape[-1] ** -0.5
    key, value = key.contiguous(), value.contiguous()
    context = query.new_empty(query.shape)
    for b in range(query.shape[0]):
        for h in range(query.shape[1]):
            scores = product(query[b, h], key[b, h], None, 'none', [], '')
            context[b, h] = product(scores.softmax(dim=-1), value[b, h].t(), None, 'none', [], '')
    return context
