"""The candidate answers of VQA's rank mode: read from a JSON file, or built
from VQAv2-format training annotations."""

from collections import Counter
from collections.abc import Iterable, Mapping

from .annotation_file import AnnotationError, load_json, require, require_list

#: BLIP's list of the 3,128 candidate answers it ranks for VQAv2 (also what
#: mmpretrain's VQA config names). Download it and name the local copy in the
#: config (``head.answer_list_path``).
BLIP_ANSWER_LIST_URL = 'https://storage.googleapis.com/sfr-vision-language-research/datasets/answer_list.json'


def load_answer_list(path: str) -> list[str]:
    """Read a JSON answer list.

    Args:
        path: A JSON file holding a list of answer strings, or an object whose
            keys are the answers (an ``answer -> index`` map).

    Returns:
        The answers in file order, each once.

    Raises:
        FileNotFoundError: No file at ``path`` (the message says where BLIP's
            list comes from).
        AnnotationError: The file is not JSON, is empty, or holds something
            other than strings.
    """
    try:
        content = load_json(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(
            f'VQA answer list not found: {path}. BLIP ranks the answers of {BLIP_ANSWER_LIST_URL}: '
            'download it to that path, or build a list from training annotations '
            '(head.answer_list_path=None, head.answer_list_annotations=[...]).'
        ) from error
    answers = list(content) if isinstance(content, Mapping) else content
    if not isinstance(answers, list):
        raise AnnotationError(
            f'VQA answer list {path} should be a JSON list of strings, got {type(content).__name__}'
        )
    for index, answer in enumerate(answers):
        if not isinstance(answer, str):
            raise AnnotationError(
                f'VQA answer list {path} should hold only strings; entry {index} is '
                f'{type(answer).__name__} {answer!r}'
            )
    if not answers:
        raise AnnotationError(f'VQA answer list {path} is empty')
    return list(dict.fromkeys(answers))


def most_common_answer(annotation: Mapping, path: str, where: str) -> str:
    """The answer most humans gave: ``multiple_choice_answer`` when present,
    else the most frequent of ``answers`` (first given on a tie)."""
    if 'multiple_choice_answer' in annotation:
        return annotation['multiple_choice_answer']
    answers = require_list(require(annotation, 'answers', path, where), path, f"{where}'s answers")
    if not answers:
        raise AnnotationError(f'annotation file {path}: {where} has no answers')
    counts = Counter(require(a, 'answer', path, f'an answer of {where}') for a in answers)
    return counts.most_common(1)[0][0]


def build_answer_list(annotation_files: Iterable[str], min_count: int = 9) -> list[str]:
    """Candidate answers from VQAv2-format annotation files (VQAv2, OK-VQA).

    Each question contributes its most common human answer; answers that are
    that for at least ``min_count`` questions are kept, most frequent first
    (ties alphabetically). With VQAv2 train + val, ``min_count=9`` is the
    usual cut-off of answer vocabularies of about 3,000 answers.

    Raises:
        FileNotFoundError: An annotation file is missing.
        AnnotationError: A file lacks ``annotations`` or answers, or no answer
            reaches ``min_count``.
    """
    counts: Counter[str] = Counter()
    files = list(annotation_files)
    for path in files:
        annotations = require_list(
            require(load_json(path), 'annotations', path, 'the file'), path, 'annotations'
        )
        for index, annotation in enumerate(annotations):
            counts[most_common_answer(annotation, path, f'annotation {index}')] += 1
    answers = sorted((a for a, n in counts.items() if n >= min_count), key=lambda a: (-counts[a], a))
    if not answers:
        raise AnnotationError(
            f'no answer is the most common answer of {min_count} or more questions in {", ".join(files)}'
        )
    return answers
