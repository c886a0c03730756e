"""Flickr30k image-text retrieval on the Karpathy split."""

from collections.abc import Mapping

from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list
from .retrieval_dataset import RetrievalDataset, group_captions

SPLITS = ('train', 'val', 'test')


@DATASETS.register_module()
class Flickr30kRetrieval(RetrievalDataset):
    """Flickr30k Karpathy retrieval split (5 captions per image; test: 1000 images).

    Reads either file that is published for it:

    * Karpathy's ``dataset_flickr30k.json`` (``{images: [{filename, split,
      sentences: [{raw}]}]}``, all splits in one file): give ``split``.
    * BLIP's / LAVIS's ``flickr30k_{train,val,test}.json``, one file per split
      in the layout of the COCO Karpathy files (``{image, caption}`` records,
      ``image`` like ``flickr30k-images/1000092795.jpg``): leave ``split``
      out.

    Items: see :class:`RetrievalDataset` (``test_mode=True`` for val/test).
    Registered under mmpretrain's name, so its configs use this reader.

    Args:
        ann_file: The annotation file, relative to ``data_root``.
        split: ``'train'``, ``'val'`` or ``'test'`` for ``dataset_flickr30k.json``.
        data_root: The Flickr30k root folder.
        data_prefix: The folder image paths are relative to, as a string or
            ``dict(img_path=...)``.
        test_mode: One item per image (val/test) instead of one per caption.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        split: str | None = None,
        data_root: str = '',
        data_prefix: str | dict | None = None,
        test_mode: bool = False,
        **kwargs,
    ) -> None:
        if split is not None and split not in SPLITS:
            raise ValueError(f'Flickr30kRetrieval: split must be one of {SPLITS} or None, got {split!r}')
        self.split = split
        if data_prefix is None or isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix or '')
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, test_mode=test_mode, **kwargs
        )

    def load_captioned_media(self) -> list[tuple[str, list[str]]]:
        path = self.ann_file
        content = load_json(path)
        prefix = self.data_prefix['img_path']
        if isinstance(content, Mapping):
            if self.split is None:
                raise AnnotationError(
                    f"annotation file {path} holds every Karpathy split: give split='train', 'val' or 'test'"
                )
            return _karpathy_split(content, path, prefix, self.split)
        if self.split is not None:
            raise AnnotationError(
                f'annotation file {path} is a one-split list (BLIP/LAVIS layout); '
                f'leave split out (got {self.split!r}) or give dataset_flickr30k.json'
            )
        records = require_list(content, path, 'the top-level value')
        return group_captions(
            records, path, lambda record, where: join_path(prefix, require(record, 'image', path, where))
        )


def _karpathy_split(content: Mapping, path: str, prefix: str, split: str) -> list[tuple[str, list[str]]]:
    images = require_list(require(content, 'images', path, 'the top-level object'), path, "'images'")
    media = []
    for index, image in enumerate(images):
        where = f'image {index}'
        if require(image, 'split', path, where) != split:
            continue
        sentences = require_list(require(image, 'sentences', path, where), path, f"{where}'s sentences")
        captions = [require(s, 'raw', path, f'{where}, sentence {n}') for n, s in enumerate(sentences)]
        media.append((join_path(prefix, require(image, 'filename', path, where)), captions))
    return media
