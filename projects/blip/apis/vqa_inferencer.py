"""Inference for visual question answering: a question about each image."""

from collections.abc import Sequence

import numpy as np

from . import visualization
from .inferencer import (
    INFERENCERS,
    ImageInput,
    Inferencer,
    OutPath,
    _image_item,
    check_batch_size,
    image_list,
    image_name,
    load_image,
)


class VQAInferencer(Inferencer):
    """Answer questions about images.

    ``VQAInferencer(model)(image, 'what is on the table?')`` returns
    ``[{'question': 'what is on the table?', 'pred_answer': '...'}]``. The
    question goes through the config's test pipeline (e.g. ``CleanCaption``)
    before the model reads it; the result repeats it as given.
    """

    input_names = ('images', 'question')

    def clean_questions(self, questions: Sequence[str]) -> list[str]:
        """The questions as the model reads them (the test pipeline's ``CleanCaption``)."""
        cleaned = list(questions)
        for transform in self.pipeline:
            if type(transform).__name__ == 'CleanCaption' and 'question' in transform.keys:
                cleaned = transform.clean(cleaned)
        return cleaned

    def __call__(
        self,
        images: ImageInput | Sequence[ImageInput],
        question: str | Sequence[str] | None = None,
        batch_size: int = 1,
        top_answers: int = 0,
        out: OutPath | None = None,
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
            out: Save each image with its question and answer below it: a
                file for one image, a folder or one file per image.

        Returns:
            One dict per image: ``question``, ``pred_answer`` and, when asked,
            ``top_answers``: ``[{'answer': ..., 'score': ...}, ...]``.

        Raises:
            ValueError: No question, an empty question (or one without words,
                such as ``'???'``: cleaning removes punctuation), a question
                count that differs from the image count, ``top_answers``
                outside rank mode, or a question longer than the model takes.
        """
        images = image_list(images)
        check_batch_size(batch_size)
        if question is None:
            raise ValueError('VQA needs a question about the image (tools/infer.py: --question "...")')
        questions = [question] * len(images) if isinstance(question, str) else list(question)
        if len(questions) != len(images):
            raise ValueError(f'{len(images)} images but {len(questions)} questions')
        for index, text in enumerate(questions):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f'question {index} is empty or not a string: {text!r}')
        for index, (text, cleaned) in enumerate(zip(questions, self.clean_questions(questions))):
            if not cleaned.strip():
                raise ValueError(
                    f'question {index}, {text!r}, has no words: the model reads questions without punctuation'
                )
        if top_answers and self.model.head.inference_method != 'rank':
            raise ValueError(
                "top_answers needs rank mode: build the model with head=dict(inference_method='rank', ...)"
            )
        items = [
            dict(_image_item(image, index), question=text)
            for index, (image, text) in enumerate(zip(images, questions))
        ]
        results = []
        for text, sample in zip(questions, self.run(items, batch_size)):
            result = {'question': text, 'pred_answer': sample.pred_answer}
            if top_answers:
                ranked = zip(sample.pred_top_answers[:top_answers], sample.pred_top_scores[:top_answers])
                result['top_answers'] = [{'answer': answer, 'score': score} for answer, score in ranked]
            results.append(result)
        if out is not None:
            drawings = [self.draw(image, result) for image, result in zip(images, results)]
            self.save_drawings(out, [image_name(image) for image in images], drawings)
        return results

    @staticmethod
    def draw(image: ImageInput, result: dict) -> np.ndarray:
        """The image with its question and answer below it."""
        lines = [f'Q: {result["question"]}', (f'A: {result["pred_answer"]}', visualization.GREEN)]
        return visualization.with_text(load_image(image), lines)


INFERENCERS['BlipVQA'] = VQAInferencer
