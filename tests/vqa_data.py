"""Tiny datasets in the official VQAv2, Visual Genome and OCR-VQA layouts, written for tests."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {'red': (220, 30, 30), 'green': (30, 200, 30), 'blue': (30, 30, 220)}


def _square(path: Path, colour: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pixels = np.full((48, 64, 3), 245, dtype=np.uint8)
    x, y = rng.integers(0, 24, size=2)
    pixels[y : y + 24, x : x + 24] = COLOURS[colour]
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, quality=95)


def human_answers(colour: str, index: int) -> list[str]:
    """Ten answers that disagree a little, as VQAv2's do."""
    answers = [colour] * 6 + [f'{colour} square', f'the {colour}', colour.upper(), 'white']
    return answers[index % 4 :] + answers[: index % 4]


def write_vqav2(root: Path, questions_per_split: int = 4) -> Path:
    """COCO images of one coloured square and ``v2_*`` question/answer files.

    train2014 and val2014 have answers; test2015 has questions only. Each
    image gets a colour question (answer_type ``other``) and a yes/no question.
    """
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    image_id = 100
    for split in ('train2014', 'val2014', 'test2015'):
        questions, annotations = [], []
        for i in range(questions_per_split // 2):
            image_id += 1
            colour = list(COLOURS)[i % len(COLOURS)]
            _square(root / split / f'COCO_{split}_{image_id:012d}.jpg', colour, image_id)
            for j, (text, answers, answer_type) in enumerate(
                [
                    ('What color is the square?', human_answers(colour, i), 'other'),
                    (f'Is the square {colour}?', ['yes'] * 9 + ['no'], 'yes/no'),
                ]
            ):
                question_id = image_id * 10 + j
                questions.append({'image_id': image_id, 'question': text, 'question_id': question_id})
                annotations.append(
                    {
                        'question_id': question_id,
                        'image_id': image_id,
                        'question_type': text.split()[0].lower(),
                        'answer_type': answer_type,
                        'multiple_choice_answer': max(set(answers), key=answers.count),
                        'answers': [
                            {'answer': a, 'answer_confidence': 'yes', 'answer_id': k + 1}
                            for k, a in enumerate(answers)
                        ],
                    }
                )
        (root / f'annotations/v2_OpenEnded_mscoco_{split}_questions.json').write_text(
            json.dumps({'questions': questions, 'task_type': 'Open-Ended'})
        )
        if split != 'test2015':
            (root / f'annotations/v2_mscoco_{split}_annotations.json').write_text(
                json.dumps({'annotations': annotations})
            )
    return root


def write_visual_genome(root: Path) -> Path:
    """``question_answers.json`` with images split over VG_100K and VG_100K_2."""
    images = []
    for image_id, (folder, colour) in enumerate([('VG_100K', 'red'), ('VG_100K_2', 'blue')], start=1):
        _square(root / folder / f'{image_id}.jpg', colour, image_id)
        qas = [
            {
                'qa_id': image_id * 100,
                'image_id': image_id,
                'question': 'What colour is it?',
                'answer': colour,
            },
            {
                'qa_id': image_id * 100 + 1,
                'image_id': image_id,
                'question': 'What shape?',
                'answer': 'Square.',
            },
        ]
        images.append({'id': image_id, 'qas': qas})
    (root / 'question_answers.json').write_text(json.dumps(images))
    return root


def write_ocrvqa(root: Path) -> Path:
    """``annotations/dataset.json`` with one book per split and a .gif book."""
    books = {}
    for book_id, split, extension in [
        ('111', 1, '.jpg'),
        ('222', 2, '.png'),
        ('333', 3, '.jpg'),
        ('444', 3, '.gif'),
    ]:
        books[book_id] = {
            'imageURL': f'http://images.example.com/I/{book_id}X{extension}',
            'questions': ['Who wrote this book?', 'Is this a comic book?'],
            'answers': [f'Author {book_id}', 'No'],
            'title': f'Book {book_id}',
            'authorName': f'Author {book_id}',
            'genre': 'Comics',
            'split': split,
        }
        if extension != '.gif':
            _square(root / 'images' / f'{book_id}{extension}', 'green', int(book_id))
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    (root / 'annotations/dataset.json').write_text(json.dumps(books))
    return root
