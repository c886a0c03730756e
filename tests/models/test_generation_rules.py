"""The named rules of the decoding loop: how beam scores are length-normalised.

A toy decoder with fixed next-token probabilities: after the 4-token prompt
``[EOS]`` has probability e^-1 and ``a`` 0.6; after ``a``, ``[EOS]`` has
e^-1.6 / 0.6; the rest is spread over a thousand other tokens, so that no
other caption comes close. The two finished captions score:

* ``[EOS]``: log-probability -1 over 1 generated token, or over the 4 tokens
  of the sequence so far (transformers 4.15, the official BLIP code);
* ``a [EOS]``: -1.6 over 2 generated tokens, or over 5.

Divided by the generated length ``a [EOS]`` wins (-0.8 > -1); divided by the
whole length the empty caption does (-0.25 > -0.32).
"""

import math

import pytest
import torch

from blip.models import GenerationConfig, generate

PAD, EOS, A, PROMPT_TOKEN = 0, 1, 2, 3
VOCAB = 1000
PROMPT = torch.full((1, 4), PROMPT_TOKEN)


class ToyDecoder:
    """Next-token log-probabilities that depend on the last token only."""

    def __init__(self):
        self.tables = {PROMPT_TOKEN: {EOS: math.exp(-1.0), A: 0.6}, A: {EOS: math.exp(-1.6) / 0.6}}

    def _logits(self, token: int) -> torch.Tensor:
        probs = self.tables.get(token, {EOS: 1.0 - 1e-6})
        rest = (1.0 - sum(probs.values())) / (VOCAB - 2 - len(probs))  # PAD, the prompt token: none
        logits = torch.full((VOCAB,), math.log(rest))
        logits[[PAD, PROMPT_TOKEN]] = -1e4
        for t, p in probs.items():
            logits[t] = math.log(p)
        return logits

    def step(self, new_ids: torch.Tensor) -> torch.Tensor:
        return torch.stack([self._logits(int(row[-1])) for row in new_ids])

    def reorder(self, rows, inputs=None) -> None:
        pass


@pytest.mark.parametrize('rule, caption', [('generated', [A, EOS]), ('total', [EOS])])
def test_beam_length_rule_decides_between_captions_of_different_lengths(rule, caption):
    config = GenerationConfig(strategy='beam', num_beams=2, max_length=6, beam_length=rule)
    sequences, scores = generate(ToyDecoder(), PROMPT, config, EOS, PAD)
    generated = sequences[0, 4:].tolist()
    assert generated[: generated.index(EOS) + 1] == caption
    length = {'generated': len(caption), 'total': 4 + len(caption) - 1}[rule]
    log_prob = -1.0 if caption == [EOS] else -1.6
    assert scores[0].item() == pytest.approx(log_prob / length, abs=1e-5)


def test_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="beam_length must be one of \\('generated', 'total'\\)"):
        GenerationConfig(beam_length='prompt')
