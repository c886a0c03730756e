"""OCR-VQA: questions about book covers, from the dataset's ``dataset.json``."""

import posixpath
from urllib.parse import urlparse

from mmengine.dataset import BaseDataset
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list

SPLITS = {1: 'train', 2: 'val', 3: 'test'}


@DATASETS.register_module()
class OCRVQA(BaseDataset):
    """OCR-VQA, one item per question.

    ``dataset.json`` maps a book id to ``{imageURL, questions, answers,
    split, ...}`` (split 1, 2, 3 = train, val, test). The image of a book is
    ``<book id><extension of imageURL>`` in the image folder, as the dataset's
    download script names it; books whose image is neither ``.jpg`` nor
    ``.png`` are skipped, as mmpretrain does (its OCR-VQA numbers count
    those books out).

    Items carry ``img_path``, ``question_id`` (``'<book id>_<n>'``),
    ``question``, ``gt_answer`` (a list holding the one answer),
    ``gt_answer_weight`` (``[1.0]``) and ``human_answers`` (the answer), plus
    the book's ``title``, ``authorName`` and ``genre``.

    Registered under mmpretrain's name.

    Args:
        data_root: The OCR-VQA root folder.
        data_prefix: The image folder below ``data_root``, or ``dict(img_path=...)``.
        ann_file: ``dataset.json``, relative to ``data_root``.
        split: ``'train'``, ``'val'`` or ``'test'``.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(self, data_root: str, data_prefix: str | dict, ann_file: str, split: str, **kwargs) -> None:
        if split not in SPLITS.values():
            raise ValueError(f'OCRVQA: split must be one of {sorted(SPLITS.values())}, got {split!r}')
        self.split = split
        if isinstance(data_prefix, str):
            data_prefix = dict(img_path=data_prefix)
        super().__init__(data_root=data_root, data_prefix=data_prefix, ann_file=ann_file, **kwargs)

    def load_data_list(self) -> list[dict]:
        """Read the questions of the chosen split."""
        path = self.ann_file
        books = load_json(path)
        if not isinstance(books, dict):
            raise AnnotationError(
                f'annotation file {path} should map book ids to books, got {type(books).__name__}'
            )
        data_list = []
        for book_id, book in books.items():
            where = f'book {book_id}'
            split = require(book, 'split', path, where)
            if split not in SPLITS:
                raise AnnotationError(f'annotation file {path}: {where} has split {split!r}, not 1, 2 or 3')
            if SPLITS[split] != self.split:
                continue
            extension = posixpath.splitext(urlparse(require(book, 'imageURL', path, where)).path)[1]
            if extension not in ('.jpg', '.png'):
                continue
            questions = require_list(require(book, 'questions', path, where), path, f"{where}'s questions")
            answers = require_list(require(book, 'answers', path, where), path, f"{where}'s answers")
            if len(questions) != len(answers):
                raise AnnotationError(
                    f'annotation file {path}: {where} has {len(questions)} questions but '
                    f'{len(answers)} answers'
                )
            img_path = join_path(self.data_prefix['img_path'], book_id + extension)
            for number, (question, answer) in enumerate(zip(questions, answers)):
                data_list.append(
                    dict(
                        img_path=img_path,
                        question_id=f'{book_id}_{number}',
                        question=question,
                        gt_answer=[answer],
                        gt_answer_weight=[1.0],
                        human_answers=[answer],
                        title=book.get('title'),
                        authorName=book.get('authorName'),
                        genre=book.get('genre'),
                    )
                )
        return data_list
