"""Sampling among the top-k tokens only draws from the same distribution as over the whole vocabulary."""

import torch

from blip.models import GenerationConfig, generate

VOCAB = 500
EOS, PAD = 1, 0


class OneStepDecoder:
    """Fixed next-token logits: a few likely tokens, then a long tail."""

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.logits = torch.randn(VOCAB, generator=generator)
        self.logits[2:8] += torch.tensor([5.0, 4.5, 4.0, 3.5, 3.0, 2.5])
        self.logits[[EOS, PAD]] = -1e4

    def step(self, new_ids: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(new_ids.shape[0], -1).clone()

    def reorder(self, rows, inputs=None) -> None:
        pass


def token_frequencies(sample_among_top_k: bool, rows: int = 20000) -> torch.Tensor:
    config = GenerationConfig(
        strategy='sample',
        top_k=5,
        top_p=0.9,
        max_length=2,
        num_return_sequences=rows,
        sample_among_top_k=sample_among_top_k,
    )
    torch.manual_seed(1)
    sequences, _ = generate(OneStepDecoder(), torch.zeros(1, 1, dtype=torch.long), config, EOS, PAD)
    return torch.bincount(sequences[:, 1], minlength=VOCAB).float() / rows


def test_the_same_distribution_within_top_k_and_top_p():
    full, among = token_frequencies(False), token_frequencies(True)
    logits = OneStepDecoder().logits
    top = logits.topk(5)
    probs = top.values.softmax(0)
    kept = probs.cumsum(0) - probs < 0.9  # the nucleus: the likeliest tokens until 0.9 is reached
    expected = torch.zeros(VOCAB)
    expected[top.indices[kept]] = probs[kept] / probs[kept].sum()
    assert among[expected == 0].sum() == 0 and full[expected == 0].sum() == 0
    torch.testing.assert_close(among, expected, atol=0.015, rtol=0)
    torch.testing.assert_close(full, expected, atol=0.015, rtol=0)
