"""Inference for visual question answering: a question about each image."""

import os
from collections.abc import Sequence

import numpy as np
from PIL import Image

from .inferencer import INFERENCERS, ImageInput, Inferencer, _image_item


class VQAInferencer(Inferencer):
    """Answer questions about images.

    ``VQAInferencer(model)(image, 'what is on the table?')`` returns
    ``[{'question': 'what is on the table?', 'pred_answer': '...'}]``. The
    question goes through the config's test pipeline (e.g. ``CleanCaption``)
    before the model reads it; the result repeats it as given.
    """

    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        question: str | Sequence[str] | None = None,
        batch_size: int = 1,
        top_answers: int = 0,
    ) -> list[dict]:
        """Answer a question about each image.

        Args:
            images: An image (path, BGR array or PIL image) or a list of them.
            question: The question, asked of every image, or one question per
                image.
            batch_size: Questions per forward pass. Answers do not depend on
                it: each question's padding is masked.
            top_answers: In rank mode, also return this many best candidates
                with their scores (the summed label-smoothed log-likelihoods
                the ranking uses; higher is better) as ``top_answers``.

        Returns:
            One dict per image: ``question``, ``pred_answer`` and, when asked,
            ``top_answers``: ``[{'answer': ..., 'score': ...}, ...]``.

        Raises:
            ValueError: No question, an empty question, a question count that
                differs from the image count, ``top_answers`` outside rank
                mode, or a question longer than the model takes.
        """
        single = isinstance(images, (str, os.PathLike, np.ndarray, Image.Image))
        images = [images] if single else list(images)
        if question is None:
            raise ValueError('VQA needs a question about the image (tools/infer.py: --question "...")')
        questions = [question] * len(images) if isinstance(question, str) else list(question)
        if len(questions) != len(images):
            raise ValueError(f'{len(images)} images but {len(questions)} questions')
        for index, text in enumerate(questions):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'question {index} is empty or not a string: {text!r}')
        if top_answers and self.model.head.inference_method != 'rank':
            raise ValueError(
                "top_answers needs rank mode: build the model with head=dict(inference_method='rank', ...)"
            )
        items = [dict(_image_item(image), question=text) for image, text in zip(images, questions)]
        results = []
        for text, sample in zip(questions, self.run(items, batch_size)):
            result = {'question': text, 'pred_answer': sample.pred_answer}
            if top_answers:
                ranked = zip(sample.pred_top_answers[:top_answers], sample.pred_top_scores[:top_answers])
                result['top_answers'] = [{'answer': answer, 'score': score} for answer, score in ranked]
            results.append(result)
        return results


INFERENCERS['BlipVQA'] = VQAInferencer
