"""VQA accuracy as the official VQA evaluation computes it."""

import re
from collections.abc import Sequence
from typing import Any

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from blip.registry import METRICS

from .vqa_answer_normalization import normalize_answer, strip_whitespace


def vqa_accuracy(prediction: str, human_answers: Sequence[str]) -> float:
    """Accuracy of one answer, in [0, 1], as the official VQA evaluation scores it.

    * Tabs and newlines become spaces and outer spaces are stripped, for the
      prediction and each human answer.
    * Only when the human answers are not all the same are they and the
      prediction normalised (punctuation, number words, articles,
      contractions; see :func:`normalize_answer`).
    * With ``n`` human answers, the accuracy is the mean over the ``n``
      leave-one-out subsets of ``min(#matching answers in the subset / 3, 1)``
      (the "10 choose 9" average of the official evaluation).
    * With a single reference answer (OCR-VQA) that average is always 0, so
      the score is instead whether the normalised answers are equal, which is
      also what mmpretrain's ``VQAAcc`` gives there.
    """
    prediction = strip_whitespace(prediction)
    answers = [strip_whitespace(a) for a in human_answers]
    if not answers:
        raise ValueError('vqa_accuracy: no human answers to compare with')
    if len(answers) == 1:
        return float(normalize_answer(prediction) == normalize_answer(answers[0]))
    if len(set(answers)) > 1:
        answers = [normalize_answer(a) for a in answers]
        prediction = normalize_answer(prediction)
    matches = sum(a == prediction for a in answers)
    # Leaving out a matching answer leaves matches - 1, any other leaves matches.
    left_out_match = matches * min((matches - 1) / 3, 1.0)
    left_out_other = (len(answers) - matches) * min(matches / 3, 1.0)
    return (left_out_match + left_out_other) / len(answers)


def _metric_name(group: str, prefix: str = '') -> str:
    return f'acc_{prefix}' + re.sub(r'\W+', '_', group).strip('_')


@METRICS.register_module()
class VQAAccuracy(BaseMetric):
    """VQA accuracy in percent, overall, per answer type and per question type.

    Equal to the official VQA evaluation (GT-Vision-Lab's ``vqaEval.py``),
    see :func:`vqa_accuracy`, which also reports ``perAnswerType`` and
    ``perQuestionType``. mmpretrain's ``VQAAcc``, which it replaces, always
    normalises and does not average over the leave-one-out subsets, so it
    scores higher.

    Each data sample needs ``pred_answer`` and ``human_answers``, all the
    human answers as the datasets of this package give them (the official
    evaluation compares with each of them; ``gt_answer``, the distinct
    answers, would score by another formula, so it is no substitute).
    ``answer_type`` (``'yes/no'``, ``'number'``, ``'other'``), when packed,
    adds one accuracy per type, e.g. ``acc_yes_no``; ``question_type``
    (VQAv2's 65 types, ``'what color is the'``, ``'how many'``, ...) adds one
    per question type, e.g. ``acc_qtype_how_many``.

    Args:
        collect_device: Device used to collect results across ranks, ``'cpu'``
            or ``'gpu'``.
        prefix: Prefix of the metric names; ``'VQA'`` by default, as mmpretrain's.
    """

    default_prefix: str | None = 'VQA'

    def __init__(self, collect_device: str = 'cpu', prefix: str | None = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Score each sample's answer and keep its accuracy and answer type."""
        for sample in data_samples:
            for field in ('pred_answer', 'human_answers'):
                if sample.get(field) is None:
                    raise KeyError(
                        f"VQAAccuracy: a data sample has no '{field}' (question_id "
                        f'{sample.get("question_id")}). The metric compares the prediction with all the '
                        "human answers: pack them with PackInputs(algorithm_keys=[..., 'human_answers'])"
                    )
            answers = sample.get('human_answers')
            answers = [answers] if isinstance(answers, str) else list(answers)
            self.results.append(
                dict(
                    accuracy=vqa_accuracy(sample.get('pred_answer'), answers),
                    answer_type=sample.get('answer_type'),
                    question_type=sample.get('question_type'),
                )
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Mean accuracy in percent: ``acc``, ``acc_<answer type>`` and ``acc_qtype_<question type>``."""
        if not results:
            raise ValueError('VQAAccuracy: no answers were scored')
        metrics = {'acc': 100 * sum(r['accuracy'] for r in results) / len(results)}
        for key, prefix in (('answer_type', ''), ('question_type', 'qtype_')):
            groups: dict[str, list[float]] = {}
            for result in results:
                if result.get(key) is not None:
                    groups.setdefault(result[key], []).append(result['accuracy'])
            for group, accuracies in sorted(groups.items()):
                metrics[_metric_name(group, prefix)] = 100 * sum(accuracies) / len(accuracies)
        MMLogger.get_current_instance().info(
            'VQA accuracy: '
            + ', '.join(f'{k} {v:.2f}' for k, v in metrics.items())
            + f' ({len(results)} questions)'
        )
        return metrics
