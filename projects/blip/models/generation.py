"""The decoding loop: beam search, greedy search and nucleus sampling.

The loop drives an incremental decoder (``step(new_ids) -> logits`` and
``reorder(rows)``) that keeps its keys and values cached, so each step feeds
only the newest token. Lengths count the prompt tokens, and the beam search
ranks and finishes hypotheses exactly as transformers' ``generate`` did for
the released BLIP results (``early_stopping=False``), with the length
normalisation of the version that produced them: 4.38 (mmpretrain's results)
divides a beam's score by the generated length, 4.15 (the authors' code)
by the whole length, prompt included (``GenerationConfig.beam_length``), so
the same weights give the same captions.
"""

from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F


class IncrementalDecoder(Protocol):
    """Decoding state over a batch of inputs (images, questions).

    Each step feeds the same number of consecutive rows (sequences) per input
    still decoded; that number may change between steps (beam search feeds the
    prompt once per input, then one row per beam).
    """

    def step(self, new_ids: torch.Tensor) -> torch.Tensor:
        """Feed ``new_ids`` (rows, n); return the next-token logits (rows, vocab)."""
        ...

    def reorder(self, rows: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        """Continue with the rows ``rows`` of the last step (indices, may repeat).

        ``inputs``: when some inputs leave, the indices (among the inputs of
        the last step) of those still decoded; ``rows`` then hold only theirs.
        """
        ...


#: How beam scores are length-normalised (``GenerationConfig.beam_length``).
BEAM_LENGTHS = ('generated', 'total')


@dataclass
class GenerationConfig:
    """How text is generated.

    Args:
        strategy: ``'beam'``, ``'greedy'`` or ``'sample'`` (nucleus sampling).
        num_beams: Beams per input (beam search).
        max_length: Longest sequence, prompt tokens included.
        min_length: End-of-sequence is forbidden before this length (prompt
            tokens included).
        repetition_penalty: > 1 discourages tokens already in the sequence.
        length_penalty: Exponent of the length normalisation of beam scores.
        top_p: Nucleus sampling keeps the smallest set of tokens whose
            probability reaches ``top_p``.
        top_k: Sampling keeps at most the ``top_k`` likeliest tokens (0: all).
        temperature: Sampling temperature.
        num_return_sequences: Sequences returned per input (the best beams, or
            independent samples).
        beam_stop: When the beam search of an input ends, once it holds
            ``num_beams`` finished sequences: ``'best_candidate'`` when none of
            the step's candidates (those just ended included) can beat the
            worst of them (transformers up to 4.49, which produced BLIP's
            published results); ``'best_running'`` when the best beam still
            running cannot (transformers 4.50 and later: it may stop sooner,
            with a lower-scoring sequence).
        beam_length: The length a beam's summed log-probability is divided by
            (to the power ``length_penalty``): ``'generated'``, the generated
            tokens only (transformers 4.38 and later, which produced
            mmpretrain's released results), or ``'total'``, the whole
            sequence with the prompt (transformers 4.15, which the official
            BLIP code pins and ran). With a prompt (captioning's ``[DEC] a
            picture of``) the two rank beams of different lengths differently.
        sample_among_top_k: Sampling with ``top_k`` draws each token among
            the ``top_k`` likeliest only. The distribution is the same (the
            other tokens have probability 0), the random numbers are not: a
            draw over the whole vocabulary (False, transformers' way, which
            gives the official BLIP code's very samples from its seed) costs
            far more over BERT's 30524 words (CapFilt samples many captions).
    """

    strategy: str = 'beam'
    num_beams: int = 3
    max_length: int = 20
    min_length: int = 0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    top_p: float = 0.9
    top_k: int = 50
    temperature: float = 1.0
    num_return_sequences: int = 1
    beam_stop: str = 'best_candidate'
    beam_length: str = 'generated'
    sample_among_top_k: bool = False

    def __post_init__(self):
        if self.strategy not in ('beam', 'greedy', 'sample'):
            raise ValueError(
                f"generation strategy must be 'beam', 'greedy' or 'sample', got {self.strategy!r}"
            )
        if self.beam_stop not in ('best_candidate', 'best_running'):
            raise ValueError(
                f"generation beam_stop must be 'best_candidate' or 'best_running', got {self.beam_stop!r}"
            )
        if self.beam_length not in BEAM_LENGTHS:
            raise ValueError(
                f'generation beam_length must be one of {BEAM_LENGTHS}, got {self.beam_length!r}'
            )
        if self.strategy == 'beam' and self.num_return_sequences > self.num_beams:
            raise ValueError(
                f'num_return_sequences ({self.num_return_sequences}) '
                f'cannot exceed num_beams ({self.num_beams})'
            )

    @property
    def rows_per_input(self) -> int:
        """Decoder rows kept per input sequence."""
        if self.strategy == 'beam':
            return self.num_beams
        return self.num_return_sequences if self.strategy == 'sample' else 1


def generate(
    decoder: IncrementalDecoder,
    prompt_ids: torch.Tensor,
    config: GenerationConfig,
    eos_token_id: int,
    pad_token_id: int,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Generate from ``prompt_ids`` (B, L0) with a decoder over the B inputs.

    Beam search feeds the prompt once per input (the beams of an input share
    it) and then ``num_beams`` rows per input; an input whose search is done
    leaves the batch. Greedy search and sampling feed ``config.rows_per_input``
    rows per input throughout.

    Returns ``(sequences, scores)``: ``sequences`` (B * num_return_sequences,
    L) hold the prompt, the generated tokens, the end token and padding;
    ``scores`` are the beam scores (None for greedy and sampling).
    """
    if config.strategy == 'beam':
        return _beam_search(decoder, prompt_ids, config, eos_token_id, pad_token_id)
    prompt_ids = prompt_ids.repeat_interleave(config.rows_per_input, dim=0)
    return _sample_or_greedy(decoder, prompt_ids, config, eos_token_id, pad_token_id), None


def _penalise(
    scores: torch.Tensor, sequences: torch.Tensor, config: GenerationConfig, eos: int
) -> torch.Tensor:
    if sequences.shape[1] < config.min_length:
        scores[:, eos] = -float('inf')
    if config.repetition_penalty != 1.0:
        seen = scores.gather(1, sequences)
        seen = torch.where(seen < 0, seen * config.repetition_penalty, seen / config.repetition_penalty)
        scores.scatter_(1, sequences, seen)
    return scores


def _nucleus_filter(logits: torch.Tensor, config: GenerationConfig) -> torch.Tensor:
    if config.temperature != 1.0:
        logits = logits / config.temperature
    if 0 < config.top_k < logits.shape[-1]:
        kth = logits.topk(config.top_k, dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, -float('inf'))
    if config.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        drop = cumulative <= 1 - config.top_p
        drop[:, -1] = False  # always keep the likeliest token
        logits = logits.masked_fill(drop.scatter(1, order, drop), -float('inf'))
    return logits


def _sample_or_greedy(decoder, sequences, config, eos, pad):
    unfinished = torch.ones(sequences.shape[0], dtype=torch.bool, device=sequences.device)
    new_ids = sequences
    while sequences.shape[1] < config.max_length:
        logits = _penalise(decoder.step(new_ids).float(), sequences, config, eos)
        if config.strategy == 'greedy':
            tokens = logits.argmax(dim=-1)
        elif config.sample_among_top_k and 0 < config.top_k < logits.shape[-1]:
            top_logits, top_tokens = logits.topk(config.top_k, dim=-1)
            probs = _nucleus_filter(top_logits, config).softmax(dim=-1)
            tokens = top_tokens.gather(1, torch.multinomial(probs, 1)).squeeze(1)
        else:
            probs = _nucleus_filter(logits, config).softmax(dim=-1)
            tokens = torch.multinomial(probs, 1).squeeze(1)
        tokens = torch.where(unfinished, tokens, pad)
        sequences = torch.cat([sequences, tokens[:, None]], dim=1)
        unfinished &= tokens != eos
        if not unfinished.any():
            break
        new_ids = tokens[:, None]
    return sequences


class _Hypotheses:
    """The best finished sequences of one input (transformers' ``BeamHypotheses``)."""

    def __init__(self, num_beams: int, length_penalty: float):
        self.num_beams = num_beams
        self.length_penalty = length_penalty
        self.beams: list[tuple[float, torch.Tensor]] = []
        self.worst_score = 1e9

    def add(self, sequence: torch.Tensor, sum_logprobs: float, length: int) -> None:
        score = sum_logprobs / length**self.length_penalty
        if len(self.beams) < self.num_beams or score > self.worst_score:
            self.beams.append((score, sequence))
            if len(self.beams) > self.num_beams:
                ranked = sorted((s, i) for i, (s, _) in enumerate(self.beams))
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprobs: float, length: int) -> bool:
        if len(self.beams) < self.num_beams:
            return False
        return self.worst_score >= best_sum_logprobs / length**self.length_penalty

    def best(self, n: int) -> list[tuple[float, torch.Tensor]]:
        # Highest score first; among equal scores the later-added one wins.
        order = sorted(range(len(self.beams)), key=lambda i: (self.beams[i][0], i), reverse=True)
        return [self.beams[i] for i in order[:n]]


def _beam_search(decoder, prompt_ids, config, eos, pad):
    num_beams = config.num_beams
    batch, prompt_len = prompt_ids.shape
    device = prompt_ids.device
    hypotheses = [_Hypotheses(num_beams, config.length_penalty) for _ in range(batch)]
    by_generated = config.beam_length == 'generated'
    active = list(range(batch))  # the inputs still searched, in row order
    # The beams of an input start from the same prompt: it is fed once, and
    # the first reorder copies its cached keys/values to the beams.
    logits = decoder.step(prompt_ids).repeat_interleave(num_beams, dim=0)
    rows_per_fed_row = num_beams
    sequences = prompt_ids.repeat_interleave(num_beams, dim=0)
    beam_scores = torch.zeros(batch, num_beams, device=device)
    beam_scores[:, 1:] = -1e9
    beam_scores = beam_scores.view(-1)
    while True:
        log_probs = F.log_softmax(logits.float(), dim=-1)
        log_probs = _penalise(log_probs, sequences, config, eos) + beam_scores[:, None]
        vocab = log_probs.shape[-1]
        top_scores, top_ids = log_probs.view(len(active), -1).topk(2 * num_beams, dim=1)
        # 4.38 counts the candidate token and not the prompt; 4.15 counts the
        # sequence so far, prompt included, without the candidate.
        length = sequences.shape[1] + 1 - prompt_len if by_generated else sequences.shape[1]

        # One host transfer per step; the candidates are ranked in Python.
        still, next_scores, next_tokens, next_rows = [], [], [], []
        candidates = zip(top_scores.tolist(), (top_ids // vocab).tolist(), (top_ids % vocab).tolist())
        for i, (scores_i, beams_i, tokens_i) in enumerate(candidates):
            b = active[i]
            kept = []
            for rank, (score, beam, token) in enumerate(zip(scores_i, beams_i, tokens_i)):
                row = i * num_beams + beam
                if token == eos:
                    if rank < num_beams:
                        hypotheses[b].add(sequences[row].clone(), score, length)
                else:
                    kept.append((score, token, row))
                if len(kept) == num_beams:
                    break
            best = scores_i[0] if config.beam_stop == 'best_candidate' else kept[0][0]
            # A done input leaves the batch: its hypotheses cannot change any more.
            if not hypotheses[b].is_done(best, length):
                still.append(i)
                for score, token, row in kept:
                    next_scores.append(score)
                    next_tokens.append(token)
                    next_rows.append(row)
        leaving = len(still) < len(active)
        active = [active[i] for i in still]
        if not active:
            break
        rows_kept = torch.tensor(next_rows, device=device)
        new_ids = torch.tensor(next_tokens, device=device).view(-1, 1)
        beam_scores = torch.tensor(next_scores, device=device)
        sequences = torch.cat([sequences[rows_kept], new_ids], dim=1)
        if sequences.shape[1] >= config.max_length:
            break
        decoder.reorder(
            rows_kept // rows_per_fed_row, torch.tensor(still, device=device) if leaving else None
        )
        rows_per_fed_row = 1
        logits = decoder.step(new_ids)

    # Inputs still searched at max_length: their beams compete with the finished ones.
    length = sequences.shape[1] - prompt_len if by_generated else sequences.shape[1]
    for i, b in enumerate(active):
        for row in range(i * num_beams, (i + 1) * num_beams):
            hypotheses[b].add(sequences[row], beam_scores[row].item(), length)
    best = [hyp for h in hypotheses for hyp in h.best(config.num_return_sequences)]
    return _pad_finished([seq for _, seq in best], config.max_length, eos, pad), torch.tensor(
        [score for score, _ in best], device=device
    )


def _pad_finished(sequences: list[torch.Tensor], max_length: int, eos: int, pad: int) -> torch.Tensor:
    """Stack sequences, appending the end token to those that stopped early."""
    width = min(max(len(s) for s in sequences) + 1, max_length)
    out = sequences[0].new_full((len(sequences), width), pad)
    for i, seq in enumerate(sequences):
        out[i, : len(seq)] = seq
        if len(seq) < width:
            out[i, len(seq)] = eos
    return out
