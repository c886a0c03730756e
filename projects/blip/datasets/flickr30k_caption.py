"""Flickr30k captions in Karpathy's split file (``dataset_flickr30k.json``)."""

from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import load_json, require, require_list

SPLITS = ('train', 'val', 'test')


@DATASETS.register_module()
class Flickr30kCaption(BaseDataset):
    """Flickr30k caption split from Karpathy's ``dataset_flickr30k.json``.

    The file is ``{images: [{filename, imgid, split, sentences: [{raw, ...}]}]}``.
    The training split yields one item per caption (``gt_caption`` a string);
    val and test yield one item per image with all its captions
    (``gt_caption`` a list), so :class:`blip.evaluation.CaptionMetric` can score
    them without a separate ground-truth file. ``image_id`` is ``imgid``.

    Registered under mmpretrain's name; unlike mmpretrain's class (one item
    per caption in every split) val and test hold each image once.

    Args:
        ann_file: ``dataset_flickr30k.json``, relative to ``data_root``.
        split: ``'train'``, ``'val'`` or ``'test'``.
        data_root: The Flickr30k root folder.
        data_prefix: The image folder below ``data_root``, as a string
            (mmpretrain's configs) or as ``dict(img_path=...)``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        split: str,
        data_root: str = '',
        data_prefix: str | dict | None = None,
        **kwargs,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        self.split = split
        if data_prefix is None:
            data_prefix = ''
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Read the images of ``self.split`` into items."""
        path = self.ann_file
        content = load_json(path)
        images = require_list(require(content, 'images', path, 'the top-level object'), path, "'images'")
        img_prefix = self.data_prefix['img_path']
        data_list = []
        for index, image in enumerate(images):
            where = f'image {index}'
            if require(image, 'split', path, where) != self.split:
                continue
            common = dict(
                img_path=join_path(img_prefix, require(image, 'filename', path, where)),
                image_id=require(image, 'imgid', path, where),
            )
            sentences = require_list(require(image, 'sentences', path, where), path, f"{where}'s sentences")
            captions = [
                require(sentence, 'raw', path, f'{where}, sentence {number}')
                for number, sentence in enumerate(sentences)
            ]
            if self.split == 'train':
                data_list.extend(dict(common, gt_caption=c) for c in captions)
            else:
                data_list.append(dict(common, gt_caption=captions))
        return data_list
