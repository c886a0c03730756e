"""BLIP visual question answering: the image tower, the image-grounded question
encoder and the answer decoder."""

from collections.abc import Sequence

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from blip.registry import MODELS, TOKENIZER

from .precision import InferencePrecision, inference_precision


@MODELS.register_module()
class BlipVQA(InferencePrecision, BaseModel):
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
        vision_backbone: Image tower config (``VisionTransformer``).
        multimodal_backbone: Question encoder config (``XBertEncoder``: the text
            tower with cross-attention).
        head: ``VQAHead`` config holding the answer decoder.
        precision: Inference precision: ``'float32'``, or ``'bfloat16'`` /
            ``'float16'`` (autocast, see :mod:`blip.models.precision`). Also
            settable later as ``model.precision``.
        data_preprocessor: Batch preparation config.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        tokenizer: dict,
        vision_backbone: dict,
        multimodal_backbone: dict,
        head: dict,
        precision: str = 'float32',
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ):
        data_preprocessor = dict(type='BlipDataPreprocessor') | dict(data_preprocessor or {})
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.tokenizer = TOKENIZER.build(tokenizer)
        self.vision_backbone = MODELS.build(vision_backbone)
        self.multimodal_backbone = MODELS.build(multimodal_backbone)
        self.vqa_head = MODELS.build(head)
        self._candidates: tuple[torch.Tensor, torch.Tensor] | None = None
        self.precision = precision

    def forward(self, images: torch.Tensor, data_samples: list | None = None, mode: str = 'loss'):
        """``mode``: ``'loss'`` (dict of losses), ``'predict'`` (data samples with
        ``pred_answer``) or ``'tensor'`` (question states)."""
        if mode == 'loss':
            return self.loss(images, data_samples)
        if mode == 'predict':
            return self.predict(images, data_samples)
        if mode == 'tensor':
            return self.encode_questions(images, _questions(data_samples))[0]
        raise RuntimeError(f'Invalid mode "{mode}".')

    def extract_feat(self, images: torch.Tensor) -> torch.Tensor:
        """Image tokens (B, N, C) of images (B, 3, H, W)."""
        if images.dim() != 4:
            raise ValueError(f'BlipVQA expects images of shape (B, 3, H, W), got {tuple(images.shape)}')
        return self.vision_backbone(images)[0]

    def tokenize_questions(self, questions: Sequence[str], device: torch.device):
        """Questions padded to the longest, ``[ENC]`` first; ``(ids, mask)``."""
        limit = self.multimodal_backbone.config.max_position_embeddings
        for index, question in enumerate(questions):
            if not isinstance(question, str) or not question.strip():
                raise ValueError(f'question {index} of the batch is empty or not a string: {question!r}')
        tokens = self.tokenizer(list(questions), padding='longest', return_tensors='pt').to(device)
        lengths = tokens.attention_mask.sum(dim=1).tolist()
        for index, length in enumerate(lengths):
            if length > limit:
                raise ValueError(
                    f'question {index} of the batch has {length} tokens, more than the {limit} '
                    f'the question encoder takes: {questions[index][:80]!r}...'
                )
        ids = tokens.input_ids
        ids[:, 0] = self.tokenizer.enc_token_id
        return ids, tokens.attention_mask

    def encode_questions(
        self, images: torch.Tensor, questions: Sequence[str]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Question states (B, Q, C) grounded in the images, and the question mask (B, Q)."""
        image_embeds = self.extract_feat(images)
        ids, mask = self.tokenize_questions(questions, image_embeds.device)
        states = self.multimodal_backbone(ids, mask, image_embeds=image_embeds)
        return states, mask

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        question_states, question_mask = self.encode_questions(images, _questions(data_samples))
        answers, weights, owners = [], [], []
        for index, sample in enumerate(data_samples):
            own_answers, own_weights = _answers_and_weights(sample, index)
            answers += own_answers
            weights += own_weights
            owners += [index] * len(own_answers)
        tokens = self.tokenizer(answers, padding='longest', return_tensors='pt').to(images.device)
        # mmpretrain keeps the tokenizer's [CLS] as the answer's first token in
        # training ([DEC] when answering); the released weights were trained so.
        owners = torch.tensor(owners, device=images.device)
        return self.vqa_head.loss(
            tokens.input_ids,
            tokens.attention_mask,
            torch.tensor(weights, dtype=question_states.dtype, device=images.device),
            question_states[owners],
            question_mask[owners],
            num_questions=len(data_samples),
        )

    def answer_candidates(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The answer list tokenized (``[DEC]`` first, padded to the longest) and its mask."""
        if self.vqa_head.answer_list is None:
            raise RuntimeError("the VQA head has no answer list: build it with inference_method='rank'")
        if self._candidates is None:
            tokens = self.tokenizer(self.vqa_head.answer_list, padding='longest', return_tensors='pt')
            tokens.input_ids[:, 0] = self.tokenizer.bos_token_id
            self._candidates = (tokens.input_ids, tokens.attention_mask)
        return tuple(t.to(device) for t in self._candidates)

    def predict(self, images: torch.Tensor, data_samples: list | None = None) -> list[DataSample]:
        with inference_precision(self.precision, images.device):
            return self._predict(images, data_samples)

    def _predict(self, images: torch.Tensor, data_samples: list | None) -> list[DataSample]:
        question_states, question_mask = self.encode_questions(images, _questions(data_samples))
        if self.vqa_head.inference_method == 'rank':
            indices, scores = self.vqa_head.rank(
                question_states, question_mask, *self.answer_candidates(question_states.device)
            )
            order = scores.argsort(dim=1, descending=True, stable=True)
            indices, scores = indices.gather(1, order), scores.gather(1, order)
            for sample, own_indices, own_scores in zip(data_samples, indices.tolist(), scores.tolist()):
                sample.pred_top_answers = [self.vqa_head.answer_list[i] for i in own_indices]
                sample.pred_top_scores = own_scores
                sample.pred_answer = sample.pred_top_answers[0]
        else:
            sequences = self.vqa_head.generate(
                question_states,
                question_mask,
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
