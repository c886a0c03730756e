"""Caption metric: BLEU, METEOR, ROUGE-L, CIDEr (and SPICE) via pycocoevalcap."""

from collections.abc import Callable, Hashable, Sequence
from functools import partial
from typing import Any

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from blip.registry import METRICS

from .caption_files import load_coco_captions, prediction_dir, save_predictions
from .meteor import MeteorScorer
from .ptb_tokenizer import tokenize
from .spice import SpiceScorer, missing_spice_jars

Captions = dict[Hashable, list[str]]


@METRICS.register_module()
class CaptionMetric(BaseMetric):
    """Score predicted captions with pycocoevalcap's COCO caption metrics.

    Reports ``Bleu_1`` ... ``Bleu_4``, ``METEOR``, ``ROUGE_L``, ``CIDEr`` and,
    when its Stanford CoreNLP jars are installed, ``SPICE``; the names and
    the scale (fractions, CIDEr around 1) are those of mmpretrain's
    ``COCOCaption`` metric, which this class replaces. The numbers equal
    pycocoevalcap's ``COCOEvalCap`` on the same files.

    Unlike ``COCOEvalCap``, a missing SPICE is skipped with one warning, and
    a scorer that fails is logged while the others still report. The
    predictions are written first, as a COCO results file
    ``[{image_id, caption}]``, so they survive any failure; its path is
    logged. Tokenization runs the Stanford tokenizer with its files in a
    temporary folder, so a read-only site-packages works.

    The ground truth is ``ann_file`` when given, else the ground-truth file
    the evaluated dataset names in its metainfo (``gt_file``, e.g. of
    :class:`blip.datasets.COCOCaption`, already joined with the dataset's
    ``data_root``; the val and test loops pass the metainfo on as
    ``dataset_meta``), else the captions packed with the data samples.

    Each data sample needs ``image_id`` and ``pred_caption``; without a
    ground-truth file it also needs ``gt_caption`` (a caption or a list of
    them, e.g. ``PackInputs(algorithm_keys=['gt_caption'], meta_keys=['image_id'])``).
    When an image is predicted more than once, the first prediction counts.
    Numeric string ids (``'000391895'``) become ``int``.

    Args:
        ann_file: A COCO-format ground-truth file (``annotations`` with
            ``image_id`` and ``caption``), like ``coco_karpathy_val_gt.json``.
            ``None`` (the default) takes the dataset's ``gt_file``, or the
            ground truth of the data samples.
        output_dir: Where to write the prediction file. By default the
            folder of the current run's log file, or a temporary folder (with
            a warning) outside a run.
        java: The Java executable the tokenizer and the Java scorers use.
        collect_device: Device used to collect results across ranks, ``'cpu'``
            or ``'gpu'``.
        prefix: Prefix added to the metric names; none by default, as in
            mmpretrain.
    """

    # No prefix, so the names are mmpretrain's (and mmengine does not warn).
    default_prefix: str | None = ''

    def __init__(
        self,
        ann_file: str | None = None,
        output_dir: str | None = None,
        java: str = 'java',
        collect_device: str = 'cpu',
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.ann_file = ann_file
        self.output_dir = output_dir
        self.java = java
        self._spice_warned = False
        self._ground_truth: tuple[str, Captions] | None = None

    @BaseMetric.dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict | None) -> None:
        """Set when the test or validation loop is built, before any inference:
        the ground-truth file is read here, so a missing or broken one fails
        at once rather than after the whole dataset has been captioned."""
        BaseMetric.dataset_meta.fset(self, dataset_meta)
        self.ground_truth()

    def ground_truth(self) -> Captions | None:
        """The captions of :attr:`ground_truth_file` (read once), or ``None`` without a file.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: It is not a COCO-format caption file.
        """
        path = self.ground_truth_file
        if path is None:
            return None
        if self._ground_truth is None or self._ground_truth[0] != path:
            self._ground_truth = (path, load_coco_captions(path))
        return self._ground_truth[1]

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Keep the image id, prediction (and ground truth) of each sample.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples: The model's outputs, ``DataSample`` objects or the
                dicts the mmengine evaluator turns them into.
        """
        for sample in data_samples:
            image_id = sample.get('image_id')
            caption = sample.get('pred_caption')
            if image_id is None or caption is None:
                raise KeyError(
                    "CaptionMetric needs 'image_id' (pack it with "
                    "PackInputs(meta_keys=['image_id'])) and 'pred_caption' in "
                    'every data sample'
                )
            result = dict(image_id=_normalise_id(image_id), caption=str(caption))
            if self.ground_truth_file is None:
                result['gt_captions'] = _as_caption_list(sample.get('gt_caption'))
            self.results.append(result)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        """Write the predictions, then score them.

        Args:
            results: What :meth:`process` kept, gathered from all ranks.

        Returns:
            The score of every scorer that ran, by mmpretrain's names.
        """
        logger = MMLogger.get_current_instance()
        predictions: dict[Hashable, str] = {}
        for result in results:
            predictions.setdefault(result['image_id'], result['caption'])
        path = save_predictions(predictions, prediction_dir(self.output_dir))
        logger.info(f'{len(predictions)} caption predictions saved to {path}')

        references = self._references(results, predictions, path)
        if references is None:
            return {}
        return self._score(references, predictions, path, logger)

    @property
    def ground_truth_file(self) -> str | None:
        """``ann_file``, else the ``gt_file`` of the evaluated dataset's metainfo."""
        if self.ann_file is not None:
            return self.ann_file
        return (self.dataset_meta or {}).get('gt_file')

    def _references(
        self, results: list[dict], predictions: dict[Hashable, str], path: Any
    ) -> Captions | None:
        """Find the ground truth of each predicted image, in evaluation order."""
        gt_file = self.ground_truth_file
        if gt_file is not None:
            ground_truth = self.ground_truth()
            source = f'ground-truth file {gt_file}'
        else:
            ground_truth = {}
            for result in results:
                if result['gt_captions']:
                    ground_truth.setdefault(result['image_id'], result['gt_captions'])
            source = 'data samples'
            if not ground_truth:
                MMLogger.get_current_instance().warning(
                    'No ground-truth captions in the data samples and no ground-truth file: '
                    f'nothing scored (predictions saved to {path})'
                )
                return None
        missing = [i for i in predictions if not ground_truth.get(i)]
        if missing:
            raise ValueError(
                f'{len(missing)} predicted images have no ground-truth caption in '
                f'the {source} (e.g. image_id {missing[0]!r}); predictions saved '
                f'to {path}'
            )
        if gt_file is not None:
            return {i: ground_truth[i] for i in ground_truth if i in predictions}
        return {i: ground_truth[i] for i in predictions}

    def _score(
        self,
        references: Captions,
        predictions: dict[Hashable, str],
        path: Any,
        logger: MMLogger,
    ) -> dict[str, float]:
        # pycocoevalcap's pure-Python scorers; imported here so that
        # ``import blip`` works without pycocoevalcap.
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge

        meteor = self._start_meteor(logger)
        try:
            try:
                gts, res = self._tokenize(references, predictions)
            except Exception as error:
                logger.error(
                    'Caption tokenization failed, no caption metric computed '
                    f'(predictions saved to {path}): {error}'
                )
                return {}
            scorers: list[tuple[str, Callable[[Captions, Captions], dict]]] = [('BLEU', _bleu)]
            if meteor is not None:
                scorers.append(('METEOR', partial(_single, meteor, 'METEOR')))
            scorers.append(('ROUGE_L', partial(_single, Rouge(), 'ROUGE_L')))
            scorers.append(('CIDEr', partial(_single, Cider(), 'CIDEr')))
            if self._spice_available(logger):
                spice = SpiceScorer(java=self.java)
                scorers.append(('SPICE', partial(_single, spice, 'SPICE')))
            metrics: dict[str, float] = {}
            for name, scorer in scorers:
                try:
                    metrics.update(scorer(gts, res))
                except Exception as error:
                    logger.error(
                        f'Caption metric {name} failed and is not reported '
                        f'(predictions saved to {path}): {error!r}'
                    )
        finally:
            if meteor is not None:
                meteor.close()
        logger.info('Caption metrics: ' + ', '.join(f'{key}: {value:.4f}' for key, value in metrics.items()))
        return metrics

    def _start_meteor(self, logger: MMLogger) -> MeteorScorer | None:
        # Started before tokenization: its JVM loads while the tokenizer runs.
        try:
            return MeteorScorer(java=self.java)
        except Exception as error:
            logger.error(f'METEOR could not start and is not reported: {error}')
            return None

    def _tokenize(self, references: Captions, predictions: dict[Hashable, str]) -> tuple[Captions, Captions]:
        image_ids = list(references)
        captions = [c for i in image_ids for c in references[i]]
        captions += [predictions[i] for i in image_ids]
        tokens = iter(tokenize(captions, java=self.java))
        gts = {i: [next(tokens) for _ in references[i]] for i in image_ids}
        res = {i: [next(tokens)] for i in image_ids}
        return gts, res

    def _spice_available(self, logger: MMLogger) -> bool:
        missing = missing_spice_jars()
        if missing and not self._spice_warned:
            self._spice_warned = True
            logger.warning(
                'SPICE skipped: its Stanford CoreNLP jars are not installed '
                f'(missing {", ".join(str(p) for p in missing)}). Run '
                'pycocoevalcap/spice/get_stanford_models.py once with network '
                'access to enable it; the other caption metrics are reported.'
            )
        return not missing


def _bleu(gts: Captions, res: Captions) -> dict[str, float]:
    from pycocoevalcap.bleu.bleu import Bleu

    scores, _ = Bleu(4).compute_score(gts, res, verbose=0)
    return {f'Bleu_{n}': float(score) for n, score in enumerate(scores, start=1)}


def _single(scorer: Any, name: str, gts: Captions, res: Captions) -> dict[str, float]:
    """Run a pycocoevalcap-style scorer that returns one corpus score."""
    return {name: float(scorer.compute_score(gts, res)[0])}


def _normalise_id(image_id: Any) -> Hashable:
    """Make an image id JSON-friendly; numeric strings become ``int``."""
    if isinstance(image_id, np.generic):
        image_id = image_id.item()
    if hasattr(image_id, 'item') and getattr(image_id, 'ndim', None) == 0:
        image_id = image_id.item()  # a 0-d tensor
    if isinstance(image_id, str) and image_id.isdigit():
        return int(image_id)
    return image_id


def _as_caption_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(caption) for caption in value]
