"""Inference precision of the task models: float32, or autocast to bfloat16 / float16.

Lower precision is autocast (``torch.autocast``), not a cast of the weights:
matrix products run in the lower precision while normalisation, softmax and
the decoding scores stay in float32, and the float32 weights stay as they are
(autocast keeps a lower-precision copy of each for the duration of a call).
On CPU bfloat16 pays off where the processor has bfloat16 instructions
(AVX512-BF16, AMX); on GPUs both bfloat16 and float16 do.
"""

import contextlib
from collections.abc import Iterator

import torch

#: Precision name -> autocast dtype (None: plain float32).
PRECISIONS: dict[str, torch.dtype | None] = {
    'float32': None,
    'bfloat16': torch.bfloat16,
    'float16': torch.float16,
}


def check_precision(precision: str) -> str:
    """Return ``precision`` if it is a known name, else raise a ``ValueError`` naming the choices."""
    if precision not in PRECISIONS:
        raise ValueError(f'precision must be one of {sorted(PRECISIONS)}, got {precision!r}')
    return precision


@contextlib.contextmanager
def inference_precision(precision: str, device: torch.device | str) -> Iterator[None]:
    """A context running the model at ``precision`` on ``device`` (autocast, or nothing for float32)."""
    dtype = PRECISIONS[check_precision(precision)]
    if dtype is None:
        yield
        return
    with contextlib.ExitStack() as stack:
        if torch.is_inference_mode_enabled():
            # Autocast keeps its lower-precision copy of a weight for the whole
            # context only outside inference mode; inside it every product
            # would cast its weight again (measured: 3x the casts, slower
            # than float32 for one image).
            stack.enter_context(torch.inference_mode(False))
            stack.enter_context(torch.no_grad())
        stack.enter_context(torch.autocast(torch.device(device).type, dtype=dtype))
        yield
