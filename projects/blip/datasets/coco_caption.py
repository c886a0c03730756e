"""COCO captions in the Karpathy split files of BLIP, LAVIS and mmpretrain."""

from pathlib import PurePosixPath

from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path
from mmengine.utils import is_abs

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list


def image_id_from_file_name(file_name: str) -> int | str:
    """Derive a COCO image id from an image file name, as mmpretrain does.

    ``'val2014/COCO_val2014_000000391895.jpg'`` gives ``391895``: the part of
    the file stem after its last underscore, as an ``int`` when it is a number
    (COCO-format ground-truth files use integer ids), else as a string.
    """
    tail = PurePosixPath(file_name.replace('\\', '/')).stem.split('_')[-1]
    return int(tail) if tail.isdigit() else tail


@DATASETS.register_module()
class COCOCaption(BaseDataset):
    """COCO Karpathy caption split (``coco_karpathy_{train,val,test}.json``).

    Each file is a JSON list. Training records are
    ``{image, caption, image_id}`` with one caption each, so training yields
    one item per caption; validation and test records are
    ``{image, caption: [5 captions]}``, one item per image. ``image`` is the
    path below the COCO root (``val2014/COCO_val2014_000000391895.jpg``).

    Items carry ``img_path``, ``image_id`` (an ``int`` taken from the file
    name, as mmpretrain does; the ``image_id`` field of the training file is
    not used) and ``gt_caption`` (a string, or the list of ground-truth
    captions of val/test records).

    Registered under mmpretrain's name so that mmpretrain-style configs use
    it in the ``blip`` scope; the items are the same as mmpretrain's except
    that ``image_id`` is an ``int`` rather than a zero-padded string.

    A split's COCO-format ground truth (``coco_karpathy_val_gt.json``) is
    named by ``gt_file``, relative to ``data_root`` like ``ann_file``, so
    that both move with ``data_root``. The dataset does not read it: it
    passes the joined path on in its metainfo (``metainfo['gt_file']``),
    where :class:`blip.evaluation.CaptionMetric` finds it.

    Args:
        ann_file: The Karpathy split file, relative to ``data_root``.
        data_root: The COCO root folder.
        data_prefix: ``dict(img_path=...)``, the folder the ``image`` paths
            are relative to (``data_root`` itself by default).
        gt_file: The split's COCO-format ground-truth file for the caption
            metric, relative to ``data_root``; ``None`` when there is none
            (the metric then scores against the records' captions, when the
            pipeline packs them).
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`
            (``pipeline``, ``test_mode``, ...).
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: dict | None = None,
        gt_file: str | None = None,
        **kwargs,
    ) -> None:
        self.gt_file = gt_file
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def _join_prefix(self) -> None:
        super()._join_prefix()
        if self.gt_file and not is_abs(self.gt_file) and self.data_root:
            self.gt_file = join_path(self.data_root, self.gt_file)
        self._metainfo['gt_file'] = self.gt_file

    def load_data_list(self) -> list[dict]:
        """Read the split file into one dict per record."""
        path = self.ann_file
        records = require_list(load_json(path), path, 'the top-level value')
        img_prefix = self.data_prefix['img_path']
        data_list = []
        for index, record in enumerate(records):
            where = f'record {index}'
            image = require(record, 'image', path, where)
            caption = require(record, 'caption', path, where)
            if not isinstance(caption, (str, list)):
                raise AnnotationError(
                    f"annotation file {path}: {where} has a 'caption' that is neither a string nor a list"
                )
            data_list.append(
                dict(
                    img_path=join_path(img_prefix, image),
                    image_id=image_id_from_file_name(image),
                    gt_caption=caption,
                )
            )
        return data_list
