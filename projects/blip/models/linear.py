"""``nn.Linear`` whose float32 inference on CPU runs on oneDNN, optionally on
weights packed once for it.

PyTorch computes float32 linear layers on CPU with its BLAS (MKL). On AMD
processors MKL's kernels stay far below the hardware: measured on a 2-core
AMD EPYC (Zen 5, AVX-512), one thread, MKL reached 30 GMAC/s on the ViT's
577 x 768 x 3072 product where oneDNN (the library behind PyTorch's mkldnn
ops, shipped with every x86 build) reached 97, and on the decoder's few-row
products (one row per beam) MKL read the weights at 3.5 GB/s, oneDNN at 18.
The results equal BLAS's to float rounding (a different summation order).

oneDNN computes on weights in its own blocked layout and, given a plain
weight, reorders it at every call. :func:`pack_for_cpu_inference` does that
once: each weight is replaced by its packed form (same memory), and the
products get faster with the same results (measured: 97 -> 125 GMAC/s on the
ViT's products, 18 -> 31 GB/s on the decoder's). The packed form is for
inference only: switching the model to training (``model.train()``), moving
or casting it (``model.to(...)``) turns the weights back to plain tensors,
``state_dict()`` gives plain tensors, and ``load_state_dict`` loads into a
packed model. The inferencers pack models that run on CPU.

The oneDNN path is taken only where it is a plain replacement: float32 tensors
on CPU, no autograd (inference), no autocast (which casts for ``F.linear``),
and oneDNN enabled (``torch.backends.mkldnn.flags(enabled=False)`` turns it
off, e.g. to compare with the BLAS path), with a contiguous weight.
Everything else calls ``F.linear`` (with a packed weight turned back to a
plain tensor for the call: correct, but slower).
Parameter names are ``nn.Linear``'s, so checkpoints are unaffected.
"""

import collections
import copy
import functools
import weakref

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


def _onednn_float32(*tensors: torch.Tensor) -> bool:
    """Whether oneDNN is on and runs here, and ``tensors`` are float32 on CPU."""
    # Called for every product while decoding: cheapest checks first, no generator.
    if not torch.backends.mkldnn.enabled:
        return False
    for t in tensors:
        if t.dtype != torch.float32 or t.device.type != 'cpu':
            return False
    return torch.backends.mkldnn.is_available() and onednn_linear_available()


def onednn_inference(*tensors: torch.Tensor) -> bool:
    """Whether products of ``tensors`` may run on oneDNN: float32 on CPU, inference, no autocast."""
    if torch.is_grad_enabled() or torch.is_autocast_enabled('cpu'):
        return False
    return _onednn_float32(*tensors)


def uses_onednn(x: torch.Tensor, weight: torch.Tensor) -> bool:
    """Whether :class:`Linear` computes ``x @ weight.T`` with oneDNN."""
    return (weight.is_mkldnn or weight.is_contiguous()) and onednn_inference(x, weight)


#: Activations a :class:`Linear` can apply to its output, by name -> oneDNN's fused
#: post-op (attribute, algorithm) and the plain function.
ACTIVATIONS = {
    'gelu': (('gelu', 'none'), F.gelu),
    'gelu_tanh': (('gelu', 'tanh'), functools.partial(F.gelu, approximate='tanh')),
    'relu': (('relu', ''), F.relu),
}


class Linear(nn.Linear):
    """``nn.Linear`` (same parameters) computing float32 CPU inference with oneDNN.

    Args:
        activation: Applied to the output (a key of :data:`ACTIVATIONS`), fused
            into oneDNN's product where that runs; None for none.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, activation: str | None = None):
        super().__init__(in_features, out_features, bias)
        if activation is not None and activation not in ACTIVATIONS:
            raise ValueError(f'activation must be one of {sorted(ACTIVATIONS)} or None, got {activation!r}')
        self.activation = activation

    def extra_repr(self) -> str:
        return super().extra_repr() + (f', activation={self.activation}' if self.activation else '')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight
        if uses_onednn(x, weight):
            post_op, algorithm = ACTIVATIONS[self.activation][0] if self.activation else ('none', '')
            # oneDNN falls back to a reference kernel, a thousand times slower,
            # for inputs with gaps between rows (e.g. the last position of each row).
            return torch.ops.mkldnn._linear_pointwise(
                x.contiguous(), weight, self.bias, post_op, [], algorithm
            )
        if weight.is_mkldnn:
            weight = weight.to_dense()
        x = F.linear(x, weight, self.bias)
        return ACTIVATIONS[self.activation][1](x) if self.activation else x

    @property
    def packed(self) -> bool:
        """Whether the weight is in oneDNN's packed form (see :func:`pack_for_cpu_inference`)."""
        return self.weight.is_mkldnn

    def pack(self, shared: bool = False) -> None:
        """Replace the float32 CPU weight by its oneDNN-packed form (same values).

        Args:
            shared: The weight is also another module's (a tied embedding):
                the packed form becomes this layer's own copy, and the shared
                weight stays as it is for the other module (and comes back
                here on :meth:`unpack`).
        """
        weight = self.weight
        if self.packed or not _onednn_float32(weight):
            return
        with torch.no_grad():
            packed = nn.Parameter(torch.ops.mkldnn._reorder_linear_weight(weight), requires_grad=False)
        # A weight something holds a weak reference to cannot be swapped in place.
        if shared or weakref.getweakrefcount(weight):
            self.__dict__['_shared_weight'] = weight  # not registered: state_dict stays the same
            self.weight = packed
        else:
            # In place: whoever holds the parameter (an optimizer) keeps it,
            # and the plain copy's memory is released.
            self._requires_grad = weight.requires_grad
            torch.utils.swap_tensors(weight, packed)

    def unpack(self) -> None:
        """Turn a packed weight back into a plain tensor (a no-op if not packed)."""
        if not self.packed:
            return
        shared = self.__dict__.pop('_shared_weight', None)
        if shared is not None:
            self.weight = shared
        else:
            plain = nn.Parameter(self.weight.to_dense(), requires_grad=self.__dict__.pop('_requires_grad'))
            torch.utils.swap_tensors(self.weight, plain)

    def __deepcopy__(self, memo):
        # Packed tensors cannot be copied: copy the plain layer, then pack both.
        shared = '_shared_weight' in self.__dict__
        packed = self.packed
        self.unpack()
        try:
            duplicate = self.__class__.__new__(self.__class__)
            memo[id(self)] = duplicate
            for name, value in self.__dict__.items():
                duplicate.__dict__[name] = copy.deepcopy(value, memo)
        finally:
            if packed:
                self.pack(shared)
        if packed:
            duplicate.pack(shared)
        return duplicate

    def train(self, mode: bool = True):
        if mode:
            self.unpack()
        return super().train(mode)

    def _apply(self, fn, recurse=True):
        self.unpack()
        return super()._apply(fn, recurse)

    def _save_to_state_dict(self, destination, prefix, keep_vars):
        super()._save_to_state_dict(destination, prefix, keep_vars)
        if self.packed:
            destination[prefix + 'weight'] = self.weight.to_dense()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        packed = self.packed
        if packed:
            shared = '_shared_weight' in self.__dict__
            self.unpack()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if packed:
            self.pack(shared=shared)


def pack_for_cpu_inference(model: nn.Module) -> nn.Module:
    """Pack the weights of ``model``'s float32 CPU :class:`Linear` layers for oneDNN.

    The outputs stay the same (oneDNN computes the same products either way);
    inference gets faster (see the module's docstring). A no-op where oneDNN
    is unavailable or disabled, and for layers on a GPU or in another dtype.
    Returns ``model``.
    """
    owners = collections.Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    for module in model.modules():
        if isinstance(module, Linear):
            module.pack(shared=owners[id(module.weight)] > 1)
    return model


def unpack_linear_weights(model: nn.Module) -> nn.Module:
    """Undo :func:`pack_for_cpu_inference`: plain weights in every :class:`Linear`. Returns ``model``."""
    for module in model.modules():
        if isinstance(module, Linear):
            module.unpack()
    return model
