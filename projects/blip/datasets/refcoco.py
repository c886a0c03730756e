"""RefCOCO, RefCOCO+ and RefCOCOg referring expressions, in the refer API's files."""

import io
import pickle

import mmengine
import mmengine.fileio as fileio
import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list


class _DataOnlyUnpickler(pickle.Unpickler):
    """Reads pickles of plain lists, dicts, strings and numbers; refuses any class."""

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f'refusing to load {module}.{name}: a refs file holds only plain data')


def load_refs(path: str) -> list:
    """The referring expressions of a refer API ``refs(<splitBy>).p`` file.

    The files are Python 2 pickles of plain data; they are read without
    allowing any class to be loaded, so a tampered file cannot run code.
    """
    try:
        content = fileio.get(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f'refs file not found: {path}') from error
    try:
        refs = _DataOnlyUnpickler(io.BytesIO(content), encoding='utf-8', errors='replace').load()
    except Exception as error:  # a damaged pickle raises many error types
        raise AnnotationError(f'refs file {path} is not a refer API pickle: {error}') from error
    return require_list(refs, path, 'the refs')


@DATASETS.register_module()
class RefCOCO(BaseDataset):
    """Referring expressions of RefCOCO, RefCOCO+ or RefCOCOg (Yu et al. 2016, Mao et al. 2016).

    Reads the refer API's files (https://github.com/lichengunc/refer): the
    expressions ``refs(unc).p`` (RefCOCO, RefCOCO+: splits train, val, testA,
    testB) or ``refs(umd).p`` (RefCOCOg: train, val, test), and the COCO-format
    ``instances.json`` with the referred boxes. Images are COCO train2014.

    Each expression is one item: ``img_path``, ``text``, ``gt_bboxes`` (1, 4)
    ``xyxy`` pixels (``float32``), ``image_id``, ``ann_id`` and ``ref_id``.
    Registered under mmpretrain's name and arguments; errors name the file and
    record, and the refs pickle is read as plain data only.

    Args:
        data_root: The folder the other paths are relative to (e.g. ``data/coco``).
        ann_file: ``instances.json`` of the dataset (e.g. ``refcoco/instances.json``).
        split_file: The refs pickle (e.g. ``refcoco/refs(unc).p``).
        split: Which expressions to load (a split present in ``split_file``).
        data_prefix: The image folder below ``data_root`` (e.g. ``train2014``),
            as a string or as ``dict(img_path=...)``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        data_root: str,
        ann_file: str,
        split_file: str,
        split: str = 'train',
        data_prefix: str | dict = '',
        **kwargs,
    ) -> None:
        self.split_file = split_file
        self.split = split
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(data_root=data_root, ann_file=ann_file, data_prefix=data_prefix, **kwargs)

    def _join_prefix(self):
        if self.split_file and not mmengine.is_abs(self.split_file) and self.data_root:
            self.split_file = join_path(self.data_root, self.split_file)
        return super()._join_prefix()

    def load_data_list(self) -> list[dict]:
        """Read the expressions of ``self.split`` with their boxes."""
        path = self.ann_file
        content = load_json(path)
        images = {
            require(image, 'id', path, f'image {i}'): image
            for i, image in enumerate(
                require_list(require(content, 'images', path, 'the top-level object'), path, "'images'")
            )
        }
        annotations = {
            require(ann, 'id', path, f'annotation {i}'): ann
            for i, ann in enumerate(
                require_list(
                    require(content, 'annotations', path, 'the top-level object'), path, "'annotations'"
                )
            )
        }
        refs = load_refs(self.split_file)
        splits = {ref.get('split') for ref in refs if isinstance(ref, dict)}
        if self.split not in splits:
            raise ValueError(
                f'split {self.split!r} is not in {self.split_file}; its splits: {sorted(map(str, splits))}'
            )

        img_prefix = self.data_prefix['img_path']
        data_list = []
        for index, ref in enumerate(refs):
            where = f'ref {index}'
            if require(ref, 'split', self.split_file, where) != self.split:
                continue
            ann_id = require(ref, 'ann_id', self.split_file, where)
            if ann_id not in annotations:
                raise AnnotationError(f'{self.split_file}, {where}: annotation {ann_id} is not in {path}')
            ann = annotations[ann_id]
            image_id = require(ann, 'image_id', path, f'annotation {ann_id}')
            if image_id not in images:
                raise AnnotationError(
                    f'annotation file {path}: image {image_id} of annotation {ann_id} is missing'
                )
            x, y, w, h = require(ann, 'bbox', path, f'annotation {ann_id}')
            box = np.array([[x, y, x + w, y + h]], dtype=np.float32)
            img_path = join_path(
                img_prefix, require(images[image_id], 'file_name', path, f'image {image_id}')
            )
            sentences = require_list(
                require(ref, 'sentences', self.split_file, where), self.split_file, f"{where}'s sentences"
            )
            for number, sentence in enumerate(sentences):
                data_list.append(
                    dict(
                        img_path=img_path,
                        text=require(sentence, 'sent', self.split_file, f'{where}, sentence {number}'),
                        gt_bboxes=box.copy(),
                        image_id=image_id,
                        ann_id=ann_id,
                        ref_id=ref.get('ref_id'),
                    )
                )
        return data_list
