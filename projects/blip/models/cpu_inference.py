"""Fast float32 CPU inference: one explicit step that swaps in inference-only modules.

``optimize(model)`` turns a model built from plain ``nn.Linear`` and
:class:`~blip.models.attention.ScaledDotProduct` into one whose products run
on oneDNN, the library behind PyTorch's ``mkldnn`` ops (shipped with every
x86 build), as torch.ao's ``convert`` swaps modules for inference. The
inferencers, ``tools/infer.py``, ``tools/test.py --cpu-optimize`` and
``tools/benchmark.py`` apply it; the towers themselves stay plain, so a model
trains, saves and deep-copies with stock PyTorch semantics.

What it swaps, measured on a 2-core AMD EPYC (Zen 5), one thread:

* every float32 ``nn.Linear`` on CPU becomes a :class:`PackedLinear`: the
  weight is reordered once into oneDNN's blocked layout (given a plain weight
  oneDNN reorders it at every call), and a GELU or ReLU that follows it in an
  ``nn.Sequential`` is fused into the product. PyTorch's default float32 path
  is MKL, which on that processor stays far below the hardware: the ViT's 577
  x 768 x 3072 product at 30 GMAC/s (MKL), 97 (oneDNN), 125 (oneDNN, packed);
  the decoder's few-row products (one row per beam) read the weights at 3.5,
  18 and 31 GB/s. Which library is faster for the image tower's hundreds of
  rows depends on the processor (on a Zen 3 EPYC, AVX2 only, two threads: 53
  GMAC/s MKL against 48 packed), so its layers are packed only where
  :func:`packing_pays_off` measures it, once, when optimizing; the few-row
  products of decoding are faster packed on both (21.8 against 8.7 GB/s on
  the Zen 3);
* every attention becomes a :class:`CpuAttention`: over many keys, the two
  products of each image and head on oneDNN for the ViT's self-attention when
  the process computes with one thread (per layer 11.6 ms fused kernel, 6.7
  ms per head; with more threads the fused kernel); in bfloat16 ``matmul`` +
  ``softmax`` + ``matmul`` (5.6 ms against 13.5); and ``matmul`` + ``softmax``
  + ``matmul`` for the decoder's cross-attention (the beams' few queries
  against 577 image tokens: 1.9 ms against 2.4 fused at batch 8). Few keys,
  masks of other kinds and autograd take the fused kernel.

The results equal the plain model's to float rounding (another summation
order). The choices are made when optimizing (the thread count is read
once, there; the image tower's products are timed once per process and
shape) and from the tensors' shapes and types, never from the environment at
run time. The private oneDNN ops are used
only where :func:`onednn_available` finds them working; elsewhere (another
build, another processor) the plain modules stay.

An optimized model is for inference: ``model.train()``, moving or casting it,
and loading weights into it raise an error; load the weights first, or build
the model again. ``state_dict()`` gives the plain weights under the usual keys.
"""

import functools
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn

from .attention import ScaledDotProduct
from .vision_transformer import VisionTransformer

#: Fewer keys than this: the fused attention kernel (decoder self-attention, short texts).
MANY_KEYS = 128
#: More threads than this when optimizing: the fused kernel for the ViT's attention.
#: Each per-head product is a parallel region of its own, hundreds per image; with
#: several threads on a machine shared with other work every region waits for a
#: descheduled thread (measured on the 2-core EPYC with other jobs running: ViT-B
#: at 2 threads 17.5 s per head against 9.9 s fused), where the fused kernel
#: splits images and heads among the threads once per layer.
PER_HEAD_MAX_THREADS = 1

#: Activations fused into a product, by module type: oneDNN's (post-op, algorithm).
_FUSED_ACTIVATIONS = {nn.GELU: lambda m: ('gelu', m.approximate), nn.ReLU: lambda m: ('relu', '')}


@functools.cache
def onednn_available() -> bool:
    """Whether this PyTorch build has oneDNN's fused and packed linear ops and they compute right."""
    try:
        linear = torch.ops.mkldnn._linear_pointwise
        x, weight, bias = torch.arange(6.0).view(2, 3), torch.ones(4, 3), torch.arange(4.0)
        packed = torch.ops.mkldnn._reorder_linear_weight(weight)
        return (
            torch.backends.mkldnn.is_available()
            and bool(torch.equal(linear(x, weight, bias, 'none', [], ''), F.linear(x, weight, bias)))
            and bool(torch.equal(linear(x, packed, bias, 'relu', [], ''), F.relu(F.linear(x, weight, bias))))
        )
    except (AttributeError, RuntimeError):
        return False


class _InferenceOnly(nn.Module):
    """Refuses what an optimized model cannot do, with a message that says why."""

    def _refuse(self, what: str):
        raise RuntimeError(
            f'{what}: this model was optimized for CPU inference (blip.models.cpu_inference.optimize); '
            'build it again (blip.get_model) to train, move, cast or load weights into it'
        )

    def train(self, mode: bool = True):
        if mode:
            self._refuse('train()')
        return super().train(False)

    def _apply(self, fn, recurse=True):
        self._refuse('moving or casting')

    def _load_from_state_dict(self, *args, **kwargs):
        self._refuse('load_state_dict')


class PackedLinear(_InferenceOnly):
    """An ``nn.Linear`` for float32 CPU inference: the weight packed for oneDNN,
    optionally the activation that follows it fused into the product.

    Outside float32 inference (autocast, autograd) it computes the plain
    product from the unpacked weight: correct, but slower.

    Args:
        linear: The layer; its weight is copied in packed form, its bias is
            shared (it may be tied to another module's).
        activation: ``nn.GELU`` or ``nn.ReLU`` applied to the output, or None.
    """

    def __init__(self, linear: nn.Linear, activation: nn.Module | None = None):
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        with torch.no_grad():
            self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach().contiguous())
        self.bias = linear.bias
        self.activation = activation
        self.post_op = (
            ('none', '') if activation is None else _FUSED_ACTIVATIONS[type(activation)](activation)
        )

    def extra_repr(self) -> str:
        fused = f', activation={self.activation}' if self.activation is not None else ''
        return f'in_features={self.in_features}, out_features={self.out_features}{fused}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype == torch.float32 and not torch.is_grad_enabled() and not torch.is_autocast_enabled('cpu'):
            # oneDNN falls back to a reference kernel, a thousand times slower,
            # for inputs with gaps between rows (e.g. the last position of each row).
            post_op, algorithm = self.post_op
            return torch.ops.mkldnn._linear_pointwise(
                x.contiguous(), self.packed_weight, self.bias, post_op, [], algorithm
            )
        x = F.linear(x, self.packed_weight.to_dense(), self.bias)
        return x if self.activation is None else self.activation(x)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        destination[prefix + 'weight'] = self.packed_weight.to_dense()
        super()._save_to_state_dict(destination, prefix, keep_vars)


class CpuAttention(_InferenceOnly, ScaledDotProduct):
    """:class:`ScaledDotProduct` for CPU inference, over many keys by faster products.

    Args:
        per_head: Over many queries and keys without a mask (the ViT), compute
            the two products of each image and head on oneDNN.
    """

    def __init__(self, per_head: bool):
        super().__init__()
        self.per_head = per_head

    def extra_repr(self) -> str:
        return f'per_head={self.per_head}'

    def forward(self, query, key, value, mask=None, is_causal=False):
        fused = (
            torch.is_grad_enabled()
            or is_causal
            or key.shape[-2] < MANY_KEYS
            or (mask is not None and mask.dtype != torch.bool)
        )
        if fused:
            return super().forward(query, key, value, mask, is_causal)
        if mask is None and query.shape[-2] >= MANY_KEYS and query.dtype == torch.float32:
            if self.per_head and not torch.is_autocast_enabled('cpu'):
                return _per_head_products(query, key, value)
            return super().forward(query, key, value)
        scores = torch.matmul(query * query.shape[-1] ** -0.5, key.transpose(-1, -2))
        if mask is not None:
            scores = scores.masked_fill(~mask, -float('inf'))
        return torch.matmul(scores.softmax(dim=-1), value)


def _per_head_products(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
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


@functools.cache
def packing_pays_off(rows: int, in_features: int, out_features: int, threads: int, pairs: int = 7) -> bool:
    """Whether a float32 product of ``rows`` rows runs faster here on a packed
    oneDNN weight than by ``F.linear`` (PyTorch's BLAS, MKL on x86), measured.

    The two run alternately on random data, ``pairs`` times each after a
    warm-up; the answer is the median of the pairs' time ratios (a change of
    load moves both runs of a pair alike). Measured once per process and shape
    (``threads`` is part of the key: the balance moves with it).
    """
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(rows, in_features, generator=generator)
    weight = torch.randn(out_features, in_features, generator=generator)
    packed = torch.ops.mkldnn._reorder_linear_weight(weight)
    runs = (
        lambda: F.linear(x, weight),
        lambda: torch.ops.mkldnn._linear_pointwise(x, packed, None, 'none', [], ''),
    )

    def seconds(run) -> float:
        start = time.perf_counter()
        run()
        return time.perf_counter() - start

    with torch.no_grad():
        for run in runs:
            run()
        ratios = [seconds(runs[1]) / seconds(runs[0]) for _ in range(pairs)]
    return statistics.median(ratios) < 1


def _image_tower_pays_off(tower: VisionTransformer) -> bool:
    """Whether packing pays off for ``tower``'s largest product, at one image's tokens."""
    largest = max((m for m in tower.modules() if _packable(m)), key=lambda m: m.weight.numel(), default=None)
    if largest is None:  # nothing left to pack
        return True
    tokens = tower.pos_embed.shape[1]
    return packing_pays_off(tokens, largest.in_features, largest.out_features, torch.get_num_threads())


def _packable(linear: nn.Module) -> bool:
    return (
        type(linear) is nn.Linear
        and linear.weight.dtype == torch.float32
        and linear.weight.device.type == 'cpu'
    )


def optimize(
    model: nn.Module, per_head_attention: bool | None = None, pack_image_tower: bool | None = None
) -> nn.Module:
    """Swap ``model``'s float32 CPU linear layers and attention for inference-only
    oneDNN ones (see the module's docstring); returns ``model``, changed in place.

    A no-op where oneDNN is unavailable and for a model on a GPU. ``model`` is
    put in eval mode and its parameters stop requiring gradients.

    Args:
        per_head_attention: Compute the ViT's attention head by head on oneDNN;
            by default when this process computes with at most
            :data:`PER_HEAD_MAX_THREADS` threads (read once, here).
        pack_image_tower: Pack the linear layers of the image tower
            (:class:`VisionTransformer`, hundreds of rows per image) too; by
            default where :func:`packing_pays_off` measures that they run
            faster so on this machine, for the tower's largest product at one
            image's tokens. The text towers' layers (a few rows per step while
            decoding) are always packed.
    """
    model.eval().requires_grad_(False)
    if not onednn_available():
        return model
    if per_head_attention is None:
        per_head_attention = torch.get_num_threads() <= PER_HEAD_MAX_THREADS
    on_cpu = all(p.device.type == 'cpu' for p in model.parameters())
    stay_plain = set()
    for tower in model.modules():
        if isinstance(tower, VisionTransformer) and on_cpu:
            pack = pack_image_tower if pack_image_tower is not None else _image_tower_pays_off(tower)
            if not pack:
                stay_plain.update(map(id, tower.modules()))
    for parent in list(model.modules()):
        children = list(parent.named_children())
        for index, (name, child) in enumerate(children):
            if type(child) is ScaledDotProduct and on_cpu:
                setattr(parent, name, CpuAttention(per_head_attention))
            elif _packable(child) and id(child) not in stay_plain:
                follower = children[index + 1][1] if index + 1 < len(children) else None
                fuse = isinstance(parent, nn.Sequential) and type(follower) in _FUSED_ACTIVATIONS
                setattr(parent, name, PackedLinear(child, follower if fuse else None))
                if fuse:
                    setattr(parent, children[index + 1][0], nn.Identity())
    return model
