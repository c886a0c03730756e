"""BLIP visual question answering: the image tower, the image-grounded question
encoder and the answer decoder."""

from collections.abc import Sequence

import torch
from mmpretrain.structures import DataSample

from blip.registry import MODELS

from .base import BlipModel
from .generation import GenerationConfig


@MODELS.register_module()
class BlipVQA(BlipModel):
    """BLIP VQA model; parameter names and results are mmpretrain's ``BlipVQA``'s.

    The question, ``[ENC]`` first, is encoded with cross-attention to the
    image tokens; the answer decoder cross-attends to the question states
    (see :class:`VQAHead` for training and the two ways of answering).
    Questions are padded to the longest of the batch, and every attention
    over them masks the padding, so an answer does not depend on the other
    questions in its batch.

    Data samples carry ``question`` (a string); training also needs
    ``gt_answer`` (a string or a list of the distinct answers) and
    ``gt_answer_weight`` (one weight per answer). Prediction sets
    ``pred_answer``; in rank mode also ``pred_top_answers`` and
    ``pred_top_scores``: the scored candidates, best first.

    Args:
        tokenizer: Tokenizer config (``BlipTokenizer``).
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Question encoder config (``TextTransformer`` with
            cross-attention).
        head: ``VQAHead`` config holding the answer decoder.
        generation_cfg: Decoding of the ``'generate'`` inference method, see
            :class:`GenerationConfig` (lengths count the ``[DEC]`` token); one
            answer per question.
        answer_first_token: The first token of the answers the loss is
            computed on: ``'cls'`` keeps the tokenizer's ``[CLS]``
            (mmpretrain's model), ``'dec'`` replaces it with ``[DEC]``, the
            token answers are generated from (the official BLIP code, which
            trained the released weights so).
        **kwargs: ``precision``, ``data_preprocessor``, ``init_cfg``: see
            :class:`BlipModel`.
    """

    checkpoint_task = 'vqa'
    checkpoint_names = {
        'image_encoder': 'vision_backbone',
        'text_encoder': 'multimodal_backbone',
        'head': 'vqa_head',
    }

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict,
        head: dict,
        generation_cfg: dict | None = None,
        answer_first_token: str = 'cls',
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, text_encoder, **kwargs)
        if answer_first_token not in ('cls', 'dec'):
            raise ValueError(
                f"BlipVQA: answer_first_token must be 'cls' or 'dec', got {answer_first_token!r}"
            )
        self.answer_first_token = answer_first_token
        self.head = MODELS.build(head)
        self.generation_cfg = GenerationConfig(
            **(dict(strategy='beam', num_beams=3, max_length=10, min_length=1) | dict(generation_cfg or {}))
        )
        if self.generation_cfg.num_return_sequences != 1:
            raise ValueError(
                'BlipVQA: generation_cfg.num_return_sequences must be 1 (one answer per question)'
            )
        self._candidates: tuple[torch.Tensor, torch.Tensor] | None = None

    def extract_feat(self, images: torch.Tensor, data_samples: list | None = None) -> torch.Tensor:
        """The question states (B, Q, C) grounded in the images."""
        return self.encode_questions(images, _questions(data_samples))[0]

    def tokenize_questions(self, questions: Sequence[str]):
        """Questions padded to the longest, ``[ENC]`` first; ``(ids, mask)``."""
        limit = self.text_encoder.config.max_position_embeddings
        for index, question in enumerate(questions):
            if not isinstance(question, str) or not question.strip():
                raise ValueError(f'question {index} of the batch is empty or not a string: {question!r}')
        tokens = self.tokenize(questions, first_token_id=self.tokenizer.enc_token_id)
        lengths = tokens.attention_mask.sum(dim=1).tolist()
        for index, length in enumerate(lengths):
            if length > limit:
                raise ValueError(
                    f'question {index} of the batch has {length} tokens, more than the {limit} '
                    f'the question encoder takes: {questions[index][:80]!r}...'
                )
        return tokens.input_ids, tokens.attention_mask

    def encode_questions(
        self, images: torch.Tensor, questions: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Question states (B, Q, C) grounded in the images, and the question mask (B, Q)."""
        image_embeds = self.encode_image(images)
        ids, mask = self.tokenize_questions(questions)
        return self.encode_multimodal(ids, mask, image_embeds), mask

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        question_states, question_mask = self.encode_questions(images, _questions(data_samples))
        answers, weights, owners = [], [], []
        for index, sample in enumerate(data_samples):
            own_answers, own_weights = _answers_and_weights(sample, index)
            answers += own_answers
            weights += own_weights
            owners += [index] * len(own_answers)
        first_token_id = self.tokenizer.bos_token_id if self.answer_first_token == 'dec' else None
        tokens = self.tokenize(answers, first_token_id=first_token_id)
        owners = torch.tensor(owners, device=images.device)
        return self.head.loss(
            tokens.input_ids,
            tokens.attention_mask,
            torch.tensor(weights, dtype=question_states.dtype, device=images.device),
            question_states[owners],
            question_mask[owners],
            num_questions=len(data_samples),
        )

    def answer_candidates(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The answer list tokenized (``[DEC]`` first, padded to the longest) and its mask."""
        if self.head.answer_list is None:
            raise RuntimeError("the VQA head has no answer list: build it with inference_method='rank'")
        if self._candidates is None or self._candidates[0].device != self.device:
            tokens = self.tokenize(self.head.answer_list, first_token_id=self.tokenizer.bos_token_id)
            self._candidates = (tokens.input_ids, tokens.attention_mask)
        return self._candidates

    def predict(self, images: torch.Tensor, data_samples: list | None = None) -> list[DataSample]:
        question_states, question_mask = self.encode_questions(images, _questions(data_samples))
        if self.head.inference_method == 'rank':
            indices, scores = self.head.rank(question_states, question_mask, *self.answer_candidates())
            order = scores.argsort(dim=1, descending=True, stable=True)
            indices, scores = indices.gather(1, order), scores.gather(1, order)
            for sample, own_indices, own_scores in zip(data_samples, indices.tolist(), scores.tolist()):
                sample.pred_top_answers = [self.head.answer_list[i] for i in own_indices]
                sample.pred_top_scores = own_scores
                sample.pred_answer = sample.pred_top_answers[0]
        else:
            sequences = self.head.generate(
                question_states,
                question_mask,
                self.generation_cfg,
                bos_token_id=self.tokenizer.bos_token_id,
                eos_token_id=self.tokenizer.sep_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
            )
            answers = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
            for sample, answer in zip(data_samples, answers):
                sample.pred_answer = answer
        return data_samples


def _questions(data_samples: list | None) -> list[str]:
    if not data_samples:
        raise ValueError('BlipVQA needs data samples with a question each')
    for index, sample in enumerate(data_samples):
        if 'question' not in sample:
            raise KeyError(
                f"data sample {index} has no 'question' "
                "(pack it with PackInputs(algorithm_keys=['question', ...]))"
            )
    return [sample.question for sample in data_samples]


def _answers_and_weights(sample: DataSample, index: int) -> tuple[list[str], list[float]]:
    if 'gt_answer' not in sample or 'gt_answer_weight' not in sample:
        raise KeyError(f"data sample {index} needs 'gt_answer' and 'gt_answer_weight' for the VQA loss")
    answers = [sample.gt_answer] if isinstance(sample.gt_answer, str) else list(sample.gt_answer)
    weights = [float(w) for w in torch.as_tensor(sample.gt_answer_weight).flatten().tolist()]
    if not answers or len(answers) != len(weights):
        raise ValueError(
            f'data sample {index}: {len(answers)} answers but {len(weights)} answer weights '
            '(one weight per distinct answer)'
        )
    return answers, weights
