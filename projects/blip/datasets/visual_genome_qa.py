"""Visual Genome question answering, as BLIP adds it to VQA training."""

from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list
from .coco_vqa import index_images


@DATASETS.register_module()
class VisualGenomeQA(BaseDataset):
    """Visual Genome QA pairs, one item per question (training data).

    Reads Visual Genome's ``question_answers.json``: a list of images
    ``{id, qas: [{qa_id, image_id, question, answer}]}``. Images are found in
    the image folders by the number in their file name (``107899.jpg``).

    Items carry ``img_path``, ``image_id``, ``question_id`` (the ``qa_id``),
    ``question``, ``gt_answer`` (a list holding the one answer) and
    ``gt_answer_weight`` (``[answer_weight]``).

    Registered under mmpretrain's name (its class cannot read the file).

    Args:
        data_root: The Visual Genome root folder.
        ann_file: ``question_answers.json``, relative to ``data_root``.
        image_folders: The image folders below ``data_root`` (Visual Genome
            ships ``VG_100K`` and ``VG_100K_2``).
        answer_weight: Loss weight of each answer; BLIP weighs a Visual Genome
            answer 0.2 (a VQAv2 answer given by all ten humans weighs 1).
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        data_root: str,
        ann_file: str = 'question_answers.json',
        image_folders: tuple[str, ...] | list[str] = ('VG_100K', 'VG_100K_2'),
        answer_weight: float = 0.2,
        **kwargs,
    ) -> None:
        self.image_folders = [join_path(data_root, folder) for folder in image_folders]
        self.answer_weight = answer_weight
        super().__init__(data_root=data_root, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Read every question of every image."""
        path = self.ann_file
        images = require_list(load_json(path), path, 'the top-level value')
        paths: dict[int, str] = {}
        for folder in self.image_folders:
            paths.update(index_images(folder))
        data_list = []
        for index, image in enumerate(images):
            qas = require_list(require(image, 'qas', path, f'image {index}'), path, f"image {index}'s 'qas'")
            for number, qa in enumerate(qas):
                where = f'question {number} of image {index}'
                image_id = require(qa, 'image_id', path, where)
                if image_id not in paths:
                    raise AnnotationError(
                        f'{path}: {where} is about image {image_id}, which is in none of {self.image_folders}'
                    )
                data_list.append(
                    dict(
                        img_path=paths[image_id],
                        image_id=image_id,
                        question_id=require(qa, 'qa_id', path, where),
                        question=require(qa, 'question', path, where),
                        gt_answer=[require(qa, 'answer', path, where)],
                        gt_answer_weight=[self.answer_weight],
                    )
                )
        return data_list
