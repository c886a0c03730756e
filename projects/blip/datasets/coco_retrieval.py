"""COCO image-text retrieval on the Karpathy split files."""

from collections.abc import Mapping

from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list
from .retrieval_dataset import RetrievalDataset, group_captions


@DATASETS.register_module()
class COCORetrieval(RetrievalDataset):
    """COCO Karpathy retrieval split (5 captions per image).

    Reads the files BLIP and LAVIS publish, ``coco_karpathy_{train,val,test}.json``:
    a JSON list of ``{image, caption, image_id}`` (training, one record per
    caption) or ``{image, caption: [captions]}`` (val/test, one per image),
    ``image`` being the path below the COCO root
    (``val2014/COCO_val2014_000000391895.jpg``). Also reads the COCO-format
    files mmpretrain's ``COCORetrieval`` reads (``{images: [{id, coco_url or
    file_name}], annotations: [{image_id, caption}]}``).

    Items: see :class:`RetrievalDataset` (``test_mode=True`` for val/test).
    Registered under mmpretrain's name, so its configs use this reader.

    Args:
        ann_file: The split file, relative to ``data_root``.
        data_root: The COCO root folder.
        data_prefix: The folder ``image`` paths are relative to, as a string or
            ``dict(img_path=...)`` (``data_root`` by default).
        test_mode: One item per image (val/test) instead of one per caption.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: str | dict | None = None,
        test_mode: bool = False,
        **kwargs,
    ) -> None:
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
            return _coco_format(content, path, prefix)
        records = require_list(content, path, 'the top-level value')
        return group_captions(
            records, path, lambda record, where: join_path(prefix, require(record, 'image', path, where))
        )


def _coco_format(content: Mapping, path: str, prefix: str) -> list[tuple[str, list[str]]]:
    """Images and captions of a COCO-format caption file, in the images' order."""
    images = require_list(require(content, 'images', path, 'the top-level object'), path, "'images'")
    annotations = require_list(
        require(content, 'annotations', path, 'the top-level object'), path, "'annotations'"
    )
    files: dict = {}
    for index, image in enumerate(images):
        where = f'image {index}'
        image_id = require(image, 'id', path, where)
        if 'coco_url' in image:  # .../val2014/COCO_val2014_000000391895.jpg
            name = '/'.join(image['coco_url'].rsplit('/', 2)[-2:])
        else:
            name = require(image, 'file_name', path, where)
        files.setdefault(image_id, join_path(prefix, name))
    captions: dict = {image_id: [] for image_id in files}
    for index, annotation in enumerate(annotations):
        where = f'annotation {index}'
        image_id = require(annotation, 'image_id', path, where)
        if image_id not in captions:
            raise AnnotationError(
                f'annotation file {path}: {where} names image {image_id!r}, which is not in images'
            )
        captions[image_id].append(require(annotation, 'caption', path, where))
    return [(files[image_id], captions[image_id]) for image_id in files if captions[image_id]]
