"""VQA answer head: the answer decoder, its weighted training loss, and answers
by beam search or by ranking a list of candidate answers."""

import torch
import torch.nn.functional as F
from torch import nn

from blip.datasets.vqa_answer_list import build_answer_list, load_answer_list
from blip.registry import MODELS

from .generation import GenerationConfig, generate
from .seq_gen_head import IGNORE_INDEX

INFERENCE_METHODS = ('generate', 'rank')

#: Rank mode scores the candidates of as many questions at a time as keep
#: their logits (candidates x tokens x vocabulary, float32) within this size:
#: all at once, 32 questions with 128 candidates of 8 tokens would take 4 GB.
RANK_LOGITS_BYTES = 256 * 2**20


@MODELS.register_module()
class VQAHead(nn.Module):
    """Answer decoder over the question states of the image-grounded encoder.

    * Training: token cross-entropy (``label_smoothing``) of each ground-truth
      answer, summed over its tokens, weighted by the answer's weight (its share of the human
      answers), summed and divided by the number of questions.
    * ``'generate'``: decoding from ``[DEC]`` (the task model's ``generation_cfg``).
    * ``'rank'``: the ``num_ans_candidates`` answers of the answer list whose
      first token is likeliest after ``[DEC]`` are scored by the negative
      label-smoothed cross-entropy of all their tokens (BLIP's ranking); the
      best one is the answer.

    Args:
        decoder: Config of the answer decoder (``TextDecoder``).
        inference_method: ``'generate'`` or ``'rank'``.
        num_ans_candidates: Candidates scored per question in rank mode
            (clipped to the size of the answer list).
        answer_list_path: JSON file of the candidate answers for rank mode (a
            list of strings, or an object whose keys are the answers). Read
            only in rank mode.
        answer_list_annotations: VQAv2-format annotation files to build the
            answer list from when ``answer_list_path`` is None (rank mode).
        min_answer_count: Answers kept when building the list: those that are
            the most common human answer of at least this many questions.
        rank_label_smoothing: Label smoothing of the cross-entropy that scores
            candidates (BLIP's decoder always applies 0.1).
        label_smoothing: Label smoothing of the training loss: 0 in
            mmpretrain's model, 0.1 in the official BLIP code (its decoder
            always smooths).
    """

    def __init__(
        self,
        decoder: dict,
        inference_method: str = 'generate',
        num_ans_candidates: int = 128,
        answer_list_path: str | None = None,
        answer_list_annotations: list[str] | None = None,
        min_answer_count: int = 9,
        rank_label_smoothing: float = 0.1,
        label_smoothing: float = 0.0,
    ):
        super().__init__()
        if inference_method not in INFERENCE_METHODS:
            raise ValueError(
                f'VQAHead: inference_method must be one of {INFERENCE_METHODS}, got {inference_method!r}'
            )
        if not isinstance(num_ans_candidates, int) or num_ans_candidates < 1:
            raise ValueError(
                f'VQAHead: num_ans_candidates must be a positive int, got {num_ans_candidates!r}'
            )
        self.decoder = MODELS.build(decoder)
        self.inference_method = inference_method
        self.rank_label_smoothing = rank_label_smoothing
        self.label_smoothing = label_smoothing
        self.answer_list: list[str] | None = None
        self.num_ans_candidates = num_ans_candidates
        if inference_method == 'rank':
            if answer_list_path is not None:
                self.answer_list = load_answer_list(answer_list_path)
            elif answer_list_annotations:
                self.answer_list = build_answer_list(answer_list_annotations, min_answer_count)
            else:
                raise ValueError(
                    "VQAHead: inference_method='rank' needs an answer list: set answer_list_path "
                    'to a JSON list of answers, or answer_list_annotations to the training '
                    'annotation files to build one from'
                )
            self.num_ans_candidates = min(num_ans_candidates, len(self.answer_list))

    def loss(
        self,
        answer_ids: torch.Tensor,
        answer_mask: torch.Tensor,
        answer_weights: torch.Tensor,
        question_states: torch.Tensor,
        question_mask: torch.Tensor,
        num_questions: int,
    ) -> dict[str, torch.Tensor]:
        """Weighted answer loss.

        Args:
            answer_ids: Tokenized answers (A, L), every answer of every question.
            answer_mask: Their padding mask (A, L).
            answer_weights: Weight of each answer (A,).
            question_states: States of the question each answer belongs to (A, Q, C).
            question_mask: Padding mask of those questions (A, Q).
            num_questions: Questions in the batch (the loss is per question).
        """
        logits = self.decoder(answer_ids, answer_mask, image_embeds=question_states, image_mask=question_mask)
        targets = answer_ids.masked_fill(answer_mask == 0, IGNORE_INDEX)
        token_losses = F.cross_entropy(
            logits[:, :-1].flatten(0, 1),
            targets[:, 1:].flatten(),
            ignore_index=IGNORE_INDEX,
            reduction='none',
            label_smoothing=self.label_smoothing,
        )
        answer_losses = token_losses.view(len(answer_ids), -1).sum(dim=1)
        return {'vqa_loss': (answer_weights * answer_losses).sum() / num_questions}

    @torch.no_grad()
    def generate(
        self,
        question_states: torch.Tensor,
        question_mask: torch.Tensor | None,
        config: GenerationConfig,
        bos_token_id: int,
        eos_token_id: int,
        pad_token_id: int,
    ) -> torch.Tensor:
        """Answer token ids (B, L) decoded with ``config``, ``[DEC]`` first.

        ``question_mask`` (B, Q) keeps each answer from attending to its
        question's padding, so an answer does not depend on the other questions
        of the batch. None attends to every state, as mmpretrain's and BLIP's
        generation do.
        """
        decoder = self.decoder.incremental(question_states, question_mask, max_length=config.max_length)
        bos = question_states.new_full((len(question_states), 1), bos_token_id, dtype=torch.long)
        sequences, _ = generate(decoder, bos, config, eos_token_id, pad_token_id)
        return sequences

    @torch.no_grad()
    def rank(
        self,
        question_states: torch.Tensor,
        question_mask: torch.Tensor,
        candidate_ids: torch.Tensor,
        candidate_mask: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Score the likeliest candidate answers of each question.

        Args:
            question_states: (B, Q, C).
            question_mask: (B, Q).
            candidate_ids: Every answer of the list tokenized, ``[DEC]`` first,
                padded to the longest (N, L).
            candidate_mask: Their padding mask (N, L).

        Returns:
            ``(indices, scores)``, both (B, k): the list indices of the ``k``
            answers whose first token is likeliest, in that order, and their
            scores (sum of the label-smoothed log-likelihoods of their tokens).
            The candidates are scored a few questions at a time (see
            :data:`RANK_LOGITS_BYTES`).
        """
        num_questions, k = len(question_states), self.num_ans_candidates
        start = candidate_ids[:1, :1].expand(num_questions, 1)
        first_logits = self.decoder(start, image_embeds=question_states, image_mask=question_mask)[:, 0]
        first_token_probs = first_logits.softmax(dim=-1).index_select(1, candidate_ids[:, 1])
        indices = first_token_probs.topk(k, dim=1).indices

        logits_bytes = k * candidate_ids.shape[1] * first_logits.shape[-1] * first_logits.element_size()
        per_chunk = max(1, RANK_LOGITS_BYTES // logits_bytes)
        scores = []
        for i in range(0, num_questions, per_chunk):
            rows = indices[i : i + per_chunk].flatten()
            chunk_mask = None if question_mask is None else question_mask[i : i + per_chunk]
            scores.append(
                self._candidate_scores(
                    question_states[i : i + per_chunk], chunk_mask, candidate_ids[rows], candidate_mask[rows]
                )
            )
        return indices, torch.cat(scores).view(num_questions, k)

    def _candidate_scores(self, question_states, question_mask, ids, mask) -> torch.Tensor:
        """Sum of the label-smoothed log-likelihoods of the tokens of each candidate (B * k,)."""
        # The k candidates of a question share its cross-attention keys/values.
        logits = self.decoder(
            ids,
            mask,
            image_embeds=question_states,
            image_mask=question_mask,
            image_group=self.num_ans_candidates,
        )
        targets = ids.masked_fill(mask == 0, IGNORE_INDEX)
        token_losses = F.cross_entropy(
            logits[:, :-1].flatten(0, 1),
            targets[:, 1:].flatten(),
            ignore_index=IGNORE_INDEX,
            reduction='none',
            label_smoothing=self.rank_label_smoothing,
        )
        return -token_losses.view(len(ids), -1).sum(dim=1)
