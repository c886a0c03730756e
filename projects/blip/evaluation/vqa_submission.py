"""The results file the VQA evaluation server takes (VQAv2 test-dev / test-std)."""

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from blip.registry import METRICS


@METRICS.register_module()
class VQASubmission(BaseMetric):
    """Write ``[{"question_id": int, "answer": str}]``, the VQA results format.

    For VQAv2 test-dev and test-std, whose answers only the evaluation server
    (EvalAI) holds: run the model on the test question file and upload the
    file. Reports no metric. A question predicted twice (padding of a
    distributed sampler) is written once.

    Each data sample needs ``question_id`` (e.g. ``PackInputs(meta_keys=
    ['question_id'])``) and ``pred_answer``. It replaces mmpretrain's
    ``ReportVQA``.

    Args:
        file_path: The file to write. By default
            ``vqa_submission.json`` in the run's log folder (or a temporary
            folder outside a run, with a warning).
        collect_device: Device used to collect results across ranks.
        prefix: Prefix of the (absent) metric names.
    """

    default_prefix: str | None = 'VQA'

    def __init__(self, file_path: str | None = None, collect_device: str = 'cpu', prefix: str | None = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        if file_path is not None and not str(file_path).endswith('.json'):
            raise ValueError(f'VQASubmission: file_path must end with .json, got {file_path!r}')
        self.file_path = file_path

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep each sample's question id and answer."""
        for sample in data_samples:
            question_id, answer = sample.get('question_id'), sample.get('pred_answer')
            if question_id is None or answer is None:
                raise KeyError(
                    "VQASubmission needs 'question_id' (pack it with PackInputs(meta_keys=['question_id'])) "
                    "and 'pred_answer' in every data sample"
                )
            self.results.append({'question_id': int(question_id), 'answer': str(answer)})

    def compute_metrics(self, results: list[dict]) -> dict:
        """Write the file; returns no metric."""
        answers: dict[int, dict] = {}
        for result in results:
            answers.setdefault(result['question_id'], result)
        path = Path(self.file_path) if self.file_path else _run_folder() / 'vqa_submission.json'
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(list(answers.values())))
        MMLogger.get_current_instance().info(f'{len(answers)} VQA answers written to {path} for the server')
        return {}


def _run_folder() -> Path:
    """The current run's log folder, or a new temporary folder (with a warning)."""
    logger = MMLogger.get_current_instance()
    log_file = getattr(logger, 'log_file', None)
    if log_file:
        return Path(log_file).parent
    folder = Path(tempfile.mkdtemp(prefix='blip_vqa_'))
    logger.warning(f'No file_path given and no log folder: the VQA submission goes to {folder}')
    return folder
