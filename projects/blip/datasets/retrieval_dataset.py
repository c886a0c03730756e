"""Captioned images (or videos) as the items of image-text retrieval training and testing."""

from collections.abc import Callable, Iterable
from typing import Any

from mmengine.dataset import BaseDataset

from .annotation_file import AnnotationError, require


class RetrievalDataset(BaseDataset):
    """Base of the retrieval datasets: images, each with one or more captions.

    Subclasses read their file in :meth:`load_captioned_media`. Images are
    numbered ``0..num_images-1`` and captions ``0..num_texts-1`` in file order.

    * Training (``test_mode=False``): one item per caption, ``{img_path, text,
      image_id, is_matched=True}``; ``image_id`` is the image's number, which
      tells the contrastive loss which captions belong together.
    * Testing (``test_mode=True``): one item per image, ``{img_path, image_id,
      text: [captions], gt_text_id: [their numbers], gt_image_id: [image_id,
      ...]}``, the layout mmpretrain's retrieval datasets use and the
      retrieval loop and metric read.

    Attributes:
        num_images: Number of images.
        num_texts: Number of captions.
    """

    #: The item key holding the file of an image or video.
    media_key = 'img_path'

    def load_captioned_media(self) -> list[tuple[str, list[str]]]:
        """``(file, captions)`` for each image, in order."""
        raise NotImplementedError

    def load_data_list(self) -> list[dict]:
        media = self.load_captioned_media()
        self.num_images = len(media)
        self.num_texts = sum(len(captions) for _, captions in media)
        items, text_id = [], 0
        for image_id, (path, captions) in enumerate(media):
            text_ids = list(range(text_id, text_id + len(captions)))
            text_id += len(captions)
            if self.test_mode:
                items.append(
                    {
                        self.media_key: path,
                        'image_id': image_id,
                        'text': list(captions),
                        'gt_text_id': text_ids,
                        'gt_image_id': [image_id] * len(captions),
                    }
                )
            else:
                items.extend(
                    {self.media_key: path, 'image_id': image_id, 'text': caption, 'is_matched': True}
                    for caption in captions
                )
        return items


def group_captions(
    records: Iterable[Any], path: str, media_of: Callable[[Any, str], str]
) -> list[tuple[str, list[str]]]:
    """Captions of list-format records (BLIP / LAVIS files), grouped by image.

    Each record has a ``caption`` (a string or a list of strings) and names its
    image or video through ``media_of(record, where)``; records naming the same
    file add to its captions, so the training files (one record per caption)
    and the test files (one record per image) read alike.
    """
    grouped: dict[str, list[str]] = {}
    for index, record in enumerate(records):
        where = f'record {index}'
        media = media_of(record, where)
        caption = require(record, 'caption', path, where)
        captions = [caption] if isinstance(caption, str) else caption
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
            raise AnnotationError(
                f"annotation file {path}: {where} has a 'caption' that is neither a string "
                'nor a list of strings'
            )
        grouped.setdefault(media, []).extend(captions)
    return list(grouped.items())
