"""VQAv2 and OK-VQA: questions on COCO images, in the official VQA file format."""

import re
from collections import Counter

import mmengine.fileio as fileio
from mmengine.dataset import BaseDataset
from mmengine.utils import is_abs

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list

_TRAILING_NUMBER = re.compile(r'(\d+)\.[A-Za-z]+$')


def index_images(folder: str) -> dict[int, str]:
    """Image id -> path of the images in ``folder``, the id being the last
    number of the file name (``COCO_val2014_000000391895.jpg`` -> 391895,
    Visual Genome's ``107899.jpg`` -> 107899)."""
    try:
        names = list(fileio.list_dir_or_file(folder, list_dir=False))
    except FileNotFoundError as error:
        raise FileNotFoundError(f'image folder not found: {folder}') from error
    index = {}
    for name in names:
        match = _TRAILING_NUMBER.search(name)
        if match:
            index[int(match.group(1))] = fileio.join_path(folder, name)
    return index


@DATASETS.register_module()
class COCOVQA(BaseDataset):
    """VQAv2 or OK-VQA, one item per question.

    Reads the official question file (``{'questions': [{image_id, question,
    question_id}]}``) and, for splits with answers, the annotation file
    (``{'annotations': [{question_id, answers: [{answer, ...}], answer_type,
    question_type, ...}]}``). Without an annotation file (VQAv2 test-dev /
    test-std) items have no answers. Images are found in the image folder by
    the number in their file name.

    Items carry ``img_path``, ``image_id``, ``question_id``, ``question`` and,
    with annotations:

    * ``gt_answer``: the distinct human answers, in order of first mention;
    * ``gt_answer_weight``: each one's share of the human answers (count / 10
      for VQAv2), the weights of the training loss;
    * ``human_answers``: all the human answers as given (the ten answers the
      official VQA accuracy is computed from);
    * ``answer_type`` (``'yes/no'``, ``'number'``, ``'other'``) and
      ``question_type``.

    Registered under mmpretrain's name, whose items it extends.

    Args:
        data_root: The COCO root folder.
        data_prefix: The image folder below ``data_root`` (``'val2014'``), or
            ``dict(img_path=...)``.
        question_file: The question file, relative to ``data_root``.
        ann_file: The annotation file, relative to ``data_root``; empty for
            splits without answers.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        data_root: str,
        data_prefix: str | dict,
        question_file: str,
        ann_file: str = '',
        **kwargs,
    ) -> None:
        self.question_file = question_file
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def _join_prefix(self):
        if self.question_file and not is_abs(self.question_file) and self.data_root:
            self.question_file = fileio.join_path(self.data_root, self.question_file)
        super()._join_prefix()

    def load_data_list(self) -> list[dict]:
        """Read the questions, and their answers when an annotation file is given."""
        path = self.question_file
        questions = require_list(require(load_json(path), 'questions', path, 'the file'), path, "'questions'")
        annotations = self._annotations_by_question() if self.ann_file else None
        images = index_images(self.data_prefix['img_path'])
        data_list = []
        for index, record in enumerate(questions):
            where = f'question {index}'
            image_id = require(record, 'image_id', path, where)
            question_id = require(record, 'question_id', path, where)
            if image_id not in images:
                raise AnnotationError(
                    f'{path}: {where} is about image {image_id}, which is not in '
                    f'{self.data_prefix["img_path"]}'
                )
            item = dict(
                img_path=images[image_id],
                image_id=image_id,
                question_id=question_id,
                question=require(record, 'question', path, where),
            )
            if annotations is not None:
                if question_id not in annotations:
                    raise AnnotationError(f'{self.ann_file}: no annotation for question_id {question_id}')
                item.update(annotations[question_id])
            data_list.append(item)
        return data_list

    def _annotations_by_question(self) -> dict:
        path = self.ann_file
        records = require_list(
            require(load_json(path), 'annotations', path, 'the file'), path, "'annotations'"
        )
        annotations = {}
        for index, record in enumerate(records):
            where = f'annotation {index}'
            answers = require_list(require(record, 'answers', path, where), path, f"{where}'s 'answers'")
            human_answers = [require(a, 'answer', path, f'an answer of {where}') for a in answers]
            if not human_answers:
                raise AnnotationError(f'annotation file {path}: {where} has no answers')
            counts = Counter(human_answers)
            annotations[require(record, 'question_id', path, where)] = dict(
                gt_answer=list(counts),
                gt_answer_weight=[n / len(human_answers) for n in counts.values()],
                human_answers=human_answers,
                answer_type=record.get('answer_type'),
                question_type=record.get('question_type'),
            )
        return annotations
