"""VQA accuracy equals the official VQA evaluation; the submission writer.

References: hand-computed values, mmpretrain's copies of the official
normalisation functions (``mmpretrain.evaluation.metrics.vqa``), and a
literal transcription of the official per-question loop (answers as dicts,
leave one annotator out, compare with the other nine).
"""

import json
import random

import pytest
from mmpretrain.evaluation.metrics import vqa as mmpretrain_vqa
from mmpretrain.structures import DataSample

import blip  # noqa: F401
from blip.evaluation import VQAAccuracy, VQASubmission, vqa_accuracy
from blip.evaluation.vqa_answer_normalization import normalize_answer, process_punctuation


def official_accuracy(prediction: str, answers: list[str]) -> float:
    """The official evaluation's loop for one question, written out."""
    gts = [
        {'answer': a.replace('\n', ' ').replace('\t', ' ').strip(), 'answer_id': i}
        for i, a in enumerate(answers)
    ]
    res = prediction.replace('\n', ' ').replace('\t', ' ').strip()
    if len({g['answer'] for g in gts}) > 1:
        for g in gts:
            g['answer'] = mmpretrain_vqa._process_digit_article(
                mmpretrain_vqa._process_punctuation(g['answer'])
            )
        res = mmpretrain_vqa._process_digit_article(mmpretrain_vqa._process_punctuation(res))
    scores = []
    for left_out in gts:
        others = [g for g in gts if g != left_out]
        scores.append(min(1, len([g for g in others if g['answer'] == res]) / 3))
    return sum(scores) / len(scores)


def simple_accuracy(prediction: str, answers: list[str]) -> float:
    """min(#matches / 3, 1) with normalisation always on (what mmpretrain's VQAAcc computes)."""
    matches = sum(normalize_answer(a) == normalize_answer(prediction) for a in answers)
    return min(matches / 3, 1.0)


TEN = ['dog'] * 2 + ['cat'] * 8


@pytest.mark.parametrize(
    'prediction, answers, expected, simple',
    [
        # Leave-one-out: k of 10 humans agree -> (k * min((k-1)/3, 1) + (10-k) * min(k/3, 1)) / 10.
        ('dog', ['dog'] + ['cat'] * 9, 0.3, 1 / 3),
        ('dog', TEN, 0.6, 2 / 3),
        ('dog', ['dog'] * 3 + ['cat'] * 7, 0.9, 1.0),
        ('dog', ['dog'] * 4 + ['cat'] * 6, 1.0, 1.0),
        ('cat', TEN, 1.0, 1.0),
        ('bird', TEN, 0.0, 0.0),
        # Humans disagree: everything is normalised (articles, number words, punctuation, case).
        ('Two dogs.', ['2 dogs'] * 3 + ['two'] * 7, 0.9, 1.0),
        ('the T-shirt', ['t shirt'] * 4 + ['shirt'] * 6, 1.0, 1.0),
        ('1,000', ['1000'] * 5 + ['many'] * 5, 1.0, 1.0),
        ('dont know', ["don't know"] * 3 + ['no'] * 7, 0.9, 1.0),
        # All humans agree: nothing is normalised, so only the exact answer counts.
        ('two', ['2'] * 10, 0.0, 1.0),
        ('Yes', ['yes'] * 10, 0.0, 1.0),
        ('yes ', ['yes'] * 10, 1.0, 1.0),  # but whitespace is always stripped
        # One reference answer (OCR-VQA): normalised exact match.
        ('Sandra Boynton', ['sandra boynton'], 1.0, 1 / 3),
    ],
)
def test_accuracy_of_one_answer(prediction, answers, expected, simple):
    assert vqa_accuracy(prediction, answers) == pytest.approx(expected)
    assert simple_accuracy(prediction, answers) == pytest.approx(simple)  # where the two differ
    if len(answers) > 1:
        assert vqa_accuracy(prediction, answers) == pytest.approx(official_accuracy(prediction, answers))


def test_accuracy_equals_the_official_loop_on_random_cases():
    rng = random.Random(0)
    vocabulary = [
        'yes',
        'no',
        'Two',
        '2',
        'two dogs',
        'the dog',
        'dog.',
        'a red car',
        'red-car',
        'it s',
        '3,5',
    ]
    for _ in range(300):
        answers = [rng.choice(vocabulary) for _ in range(10)]
        prediction = rng.choice(vocabulary + answers)
        assert vqa_accuracy(prediction, answers) == pytest.approx(official_accuracy(prediction, answers))


@pytest.mark.parametrize(
    'text',
    [
        'Two dogs.',
        'the T-shirt',
        '1,000',
        'a (big) dog!',
        'dont',
        'Im ok',
        'ten/eleven',
        'wait... what?',
        'it is 2.50',
        'red, white and blue',
        'yes;no',
        'x' + '.' * 40,  # more periods than the official evaluation strips (32)
    ],
)
def test_normalisation_equals_the_official_functions(text):
    official = mmpretrain_vqa._process_digit_article(mmpretrain_vqa._process_punctuation(text))
    assert normalize_answer(text) == official
    assert process_punctuation(text) == mmpretrain_vqa._process_punctuation(text)


def sample(prediction, answers, answer_type=None, question_type=None, **fields):
    data = DataSample(pred_answer=prediction, **fields)
    if answers is not None:
        data.human_answers = answers
    data.set_metainfo(
        {k: v for k, v in dict(answer_type=answer_type, question_type=question_type).items() if v}
    )
    return data


def test_metric_reports_overall_per_answer_type_and_per_question_type_accuracy():
    metric = VQAAccuracy()
    metric.process(
        None,
        [
            sample('yes', ['yes'] * 9 + ['no'], 'yes/no', 'is the'),  # 1.0
            sample('no', ['yes'] * 9 + ['no'], 'yes/no', 'is there a'),  # one human: 0.3
            sample('2', TEN[:2] + ['2'] * 8, 'number', 'how many'),  # 1.0
            sample('dog', TEN, 'other', 'what animal is'),  # 0.6
            sample('dog', ['cat'] * 10, 'other', 'what animal is'),  # 0.0
        ],
    )
    metric.process(None, [sample('cat', ['cat'], 'other')])  # no question type (OCR-VQA): 1.0
    metrics = metric.evaluate(6)
    assert metrics == pytest.approx(
        {
            'VQA/acc': 100 * (1 + 0.3 + 1 + 0.6 + 0 + 1) / 6,
            'VQA/acc_number': 100.0,
            'VQA/acc_other': 100 * (0.6 + 0 + 1) / 3,
            'VQA/acc_yes_no': 65.0,
            'VQA/acc_qtype_how_many': 100.0,
            'VQA/acc_qtype_is_the': 100.0,
            'VQA/acc_qtype_is_there_a': 30.0,
            'VQA/acc_qtype_what_animal_is': 30.0,
        }
    )


def test_metric_names_missing_fields():
    with pytest.raises(KeyError, match="no 'human_answers' \\(question_id 7\\).*PackInputs"):
        VQAAccuracy().process(None, [DataSample(pred_answer='yes', metainfo=dict(question_id=7))])
    with pytest.raises(KeyError, match="no 'pred_answer'"):
        VQAAccuracy().process(None, [DataSample(human_answers=['yes'] * 10)])


def test_gt_answer_is_no_substitute_for_human_answers():
    """gt_answer holds the distinct answers: scoring them would count [dog, cat] as two humans."""
    with pytest.raises(KeyError, match="no 'human_answers'"):
        VQAAccuracy().process(None, [sample('cat', None, 'other', gt_answer=['dog', 'cat'])])


def test_submission_file_for_the_evaluation_server(tmp_path):
    path = tmp_path / 'out' / 'vqa_test.json'
    writer = VQASubmission(file_path=str(path))
    answers = [DataSample(metainfo=dict(question_id=q), pred_answer=a) for q, a in [(5, 'yes'), (7, 'two')]]
    writer.process(None, answers)
    writer.process(None, [DataSample(metainfo=dict(question_id=5), pred_answer='no')])  # sampler padding
    assert writer.evaluate(3) == {}
    assert json.loads(path.read_text()) == [
        {'question_id': 5, 'answer': 'yes'},
        {'question_id': 7, 'answer': 'two'},
    ]
    with pytest.raises(KeyError, match='question_id'):
        VQASubmission(file_path=str(path)).process(None, [DataSample(pred_answer='yes')])
    with pytest.raises(ValueError, match='.json'):
        VQASubmission(file_path=str(tmp_path / 'vqa.txt'))
