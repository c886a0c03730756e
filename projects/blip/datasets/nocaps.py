"""NoCaps images with their captions (val) or without (test)."""

from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list


@DATASETS.register_module()
class NoCaps(BaseDataset):
    """NoCaps, one item per image.

    Reads the public COCO-style files: ``nocaps_val_4500_captions.json``
    (``images`` with ``id``/``file_name``/``domain``, ``annotations`` with
    ``image_id``/``caption``) and ``nocaps_test_image_info.json`` (``images``
    only; test captions are held by the evaluation server).

    Items carry ``img_path``, ``image_id``, ``domain`` (``in-domain``,
    ``near-domain`` or ``out-domain``, when the file gives it) and, when the
    file has annotations, ``gt_caption``: the list of the image's captions.

    Registered under mmpretrain's name; mmpretrain's class yields one item per
    caption (each image ten times) and cannot read the test file.

    Args:
        ann_file: The NoCaps annotation file, relative to ``data_root``.
        data_root: The NoCaps root folder.
        data_prefix: ``dict(img_path=...)``, the image folder below
            ``data_root``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: dict | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            ann_file=ann_file,
            data_root=data_root,
            data_prefix=data_prefix or dict(img_path=''),
            **kwargs,
        )

    def load_data_list(self) -> list[dict]:
        """Read the images, and their captions when the file has them."""
        path = self.ann_file
        content = load_json(path)
        images = require_list(require(content, 'images', path, 'the top-level object'), path, "'images'")
        captions = self._captions_by_image(content, path)
        img_prefix = self.data_prefix['img_path']
        data_list = []
        for index, image in enumerate(images):
            where = f'image {index}'
            image_id = require(image, 'id', path, where)
            item = dict(
                img_path=join_path(img_prefix, require(image, 'file_name', path, where)),
                image_id=image_id,
            )
            if 'domain' in image:
                item['domain'] = image['domain']
            if captions is not None:
                if image_id not in captions:
                    raise AnnotationError(f'annotation file {path}: image {image_id} has no caption')
                item['gt_caption'] = captions[image_id]
            data_list.append(item)
        return data_list

    @staticmethod
    def _captions_by_image(content: dict, path: str) -> dict | None:
        """Group the captions by image id; ``None`` for a file without any."""
        if 'annotations' not in content:
            return None
        annotations = require_list(content['annotations'], path, "'annotations'")
        captions: dict = {}
        for index, annotation in enumerate(annotations):
            where = f'annotation {index}'
            image_id = require(annotation, 'image_id', path, where)
            caption = require(annotation, 'caption', path, where)
            captions.setdefault(image_id, []).append(caption)
        return captions
