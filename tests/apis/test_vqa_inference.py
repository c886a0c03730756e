"""VQA user surface: inference_model, VQAInferencer, tools/infer.py --question,
bad input, and a tiny train / validate / test run of the VQAv2 config."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import blip
from blip.apis import model_zoo
from fixture_weights import DATA
from tiny_models import randomize
from vqa_data import write_visual_genome, write_vqav2

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_vqa.py'
ANSWER_LIST = DATA / 'vqa_answer_list.json'
QUESTION = 'What color is the square?'


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    return write_vqav2(tmp_path_factory.mktemp('coco'))


@pytest.fixture(scope='module')
def images(coco):
    return sorted(str(p) for p in (coco / 'val2014').iterdir())


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = randomize(blip.get_model(TINY_CONFIG), std=0.05)
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_vqa.pth'
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


@pytest.fixture(scope='module')
def model(checkpoint):
    return blip.get_model(TINY_CONFIG, pretrained=str(checkpoint))


@pytest.fixture(scope='module')
def rank_model(checkpoint):
    head = dict(inference_method='rank', answer_list_path=str(ANSWER_LIST), num_ans_candidates=5)
    return blip.get_model(TINY_CONFIG, pretrained=str(checkpoint), head=head)


def test_the_metafile_names_the_vqa_models():
    info = model_zoo.model_info('blip-base_3rdparty_vqa')
    assert info.config == REPO / 'configs/blip/blip-base_vqa.py'
    assert info.weights.endswith('blip-base_3rdparty-capflit_vqa_20230505-81488941.pth')
    assert blip.list_models('*vqa*', task='Visual Question Answering') == [
        'blip-base_3rdparty_vqa',
        'blip-base_3rdparty_vqa_ocrvqa',
        'blip-base_3rdparty_vqa_okvqa',
    ]
    assert model_zoo.model_info('blip-base_3rdparty_vqa_okvqa').metadata['Zero-shot'] is True


def test_inference_model_answers_a_question(model, images):
    result = blip.inference_model(model, images[0], QUESTION)
    assert set(result) == {'question', 'pred_answer'}
    assert result['question'] == QUESTION and isinstance(result['pred_answer'], str)
    batch = blip.inference_model(model, images, [QUESTION, 'Is the square red?'], batch_size=2)
    assert len(batch) == 2 and batch[0] == result
    # Batched with a longer question (so padded), or alone: the same answer.
    assert batch[1] == blip.inference_model(model, images[1], 'Is the square red?')


def test_rank_mode_returns_top_answers_with_scores(rank_model, images):
    result = blip.inference_model(rank_model, images[0], QUESTION, top_answers=3)
    answers = json.loads(ANSWER_LIST.read_text())
    assert result['pred_answer'] in answers
    top = result['top_answers']
    assert [t['answer'] for t in top][0] == result['pred_answer'] and len(top) == 3
    scores = [t['score'] for t in top]
    assert scores == sorted(scores, reverse=True) and all(s < 0 for s in scores)
    assert set(blip.inference_model(rank_model, images[0], QUESTION)) == {'question', 'pred_answer'}


def test_bad_questions_get_clear_errors(model, images):
    with pytest.raises(ValueError, match='needs a question'):
        blip.inference_model(model, images[0])
    with pytest.raises(ValueError, match='question 0 is empty'):
        blip.inference_model(model, images[0], '   ')
    with pytest.raises(ValueError, match='2 images but 3 questions'):
        blip.inference_model(model, images[:2], ['a?', 'b?', 'c?'])
    with pytest.raises(ValueError, match='more than the 512'):
        blip.inference_model(model, images[0], 'why ' * 600)
    with pytest.raises(ValueError, match='top_answers needs rank mode'):
        blip.inference_model(model, images[0], QUESTION, top_answers=3)


def test_infer_tool_takes_the_question(checkpoint, images, model):
    args = [str(TINY_CONFIG), images[0], '--checkpoint', str(checkpoint), '--question', QUESTION]
    result = subprocess.run(
        [sys.executable, 'tools/infer.py', *args], cwd=REPO, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = result.stdout.strip().splitlines()[-1]
    assert line.startswith(images[0] + ': ')
    assert json.loads(line[len(images[0]) + 2 :]) == blip.inference_model(model, images[0], QUESTION)


def test_train_validate_and_write_a_submission(coco, checkpoint, tmp_path):
    cfg = Config.fromfile(str(TINY_CONFIG))
    vg = write_visual_genome(tmp_path / 'vg')
    cfg.train_dataloader.dataset.datasets[0].data_root = str(coco)
    cfg.train_dataloader.dataset.datasets[1].data_root = str(vg)
    cfg.val_dataloader.dataset.data_root = str(coco)
    cfg.test_dataloader.dataset.data_root = str(coco)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = str(checkpoint)
    runner = Runner.from_cfg(cfg)
    runner.train()  # 4 VQAv2 + 4 Visual Genome questions, then validation
    metrics = runner.val_loop.run()
    assert set(metrics) == {
        'VQA/acc',
        'VQA/acc_other',
        'VQA/acc_yes_no',
        'VQA/acc_qtype_is',  # vqa_data's question types: the first word
        'VQA/acc_qtype_what',
    }
    assert 0 <= metrics['VQA/acc'] <= 100
    runner.test()
    (submission,) = Path(cfg.work_dir).glob('*/vqa_submission.json')
    answers = json.loads(submission.read_text())
    assert sorted(a['question_id'] for a in answers) == [1050, 1051, 1060, 1061]
    assert all(isinstance(a['answer'], str) for a in answers)
