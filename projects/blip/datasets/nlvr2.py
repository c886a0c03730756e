"""NLVR2 statements about image pairs, in the official JSON-lines files."""

import json

import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, require

LABELS = {'True': 1, 'False': 0}


@DATASETS.register_module()
class NLVR2(BaseDataset):
    """NLVR2 (Suhr et al. 2019) from its official annotation files.

    ``train.json``, ``dev.json`` and ``test1.json`` (test-P) hold one JSON
    object per line with ``identifier`` (``<split>-<set>-<pair>-<sentence>``),
    ``sentence`` and ``label`` (``"True"``/``"False"``). The pair's images are
    ``<split>-<set>-<pair>-img0.png`` (left) and ``-img1.png`` (right). Training
    images live in numbered sub-folders given by each line's ``directory``
    (``train/52/train-10171-0-img0.png``); dev and test1 images are flat.

    Each item has ``img_path`` (the two paths, left first), ``text``,
    ``gt_label`` (1 = the statement is true) and ``identifier``. Registered
    under mmpretrain's name; unlike mmpretrain's class it reads the numbered
    training folders.

    Args:
        ann_file: The JSON-lines file, relative to ``data_root``.
        data_root: The NLVR2 root folder.
        data_prefix: The image folder of this split below ``data_root``
            (e.g. ``'train'``), as a string or as ``dict(img_path=...)``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, ann_file: str, data_root: str = '', data_prefix: str | dict = '', **kwargs) -> None:
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Read every statement of the annotation file into an item."""
        path = self.ann_file
        if not path:
            raise AnnotationError('no annotation file given (`ann_file` is empty)')
        try:
            text = fileio.get_text(path)
        except FileNotFoundError as error:
            raise FileNotFoundError(f'annotation file not found: {path}') from error
        img_prefix = self.data_prefix['img_path']
        data_list = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f'line {number}'
            try:
                example = json.loads(line)
            except json.JSONDecodeError as error:
                raise AnnotationError(
                    f'annotation file {path}, {where} is not valid JSON: {error}'
                ) from error
            identifier = require(example, 'identifier', path, where)
            label = require(example, 'label', path, where)
            if label not in LABELS:
                raise AnnotationError(
                    f"annotation file {path}, {where}: label should be 'True' or 'False', got {label!r}"
                )
            folder = img_prefix
            if 'directory' in example:  # training images: train/<directory>/...
                folder = join_path(img_prefix, str(example['directory']))
            pair = identifier.rsplit('-', 1)[0]
            data_list.append(
                dict(
                    img_path=[join_path(folder, f'{pair}-img{i}.png') for i in range(2)],
                    text=require(example, 'sentence', path, where),
                    gt_label=LABELS[label],
                    identifier=identifier,
                )
            )
        if not data_list:
            raise AnnotationError(f'annotation file {path} holds no statements')
        return data_list
