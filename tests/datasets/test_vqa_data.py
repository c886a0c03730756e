"""VQA datasets (VQAv2/OK-VQA, OCR-VQA, Visual Genome QA) and answer lists."""

import json

import pytest

import blip  # noqa: F401
from blip.datasets import (
    COCOVQA,
    OCRVQA,
    AnnotationError,
    VisualGenomeQA,
    build_answer_list,
    load_answer_list,
)
from blip.registry import MODELS
from tiny_models import tiny_vqa_config
from vqa_data import human_answers, write_ocrvqa, write_visual_genome, write_vqav2


@pytest.fixture(scope='module')
def coco(tmp_path_factory):
    return write_vqav2(tmp_path_factory.mktemp('coco'))


def vqav2(root, split, with_answers=True):
    kind = 'test2015' if split == 'test2015' else split
    return COCOVQA(
        data_root=str(root),
        data_prefix=kind,
        question_file=f'annotations/v2_OpenEnded_mscoco_{kind}_questions.json',
        ann_file=f'annotations/v2_mscoco_{kind}_annotations.json' if with_answers else '',
    )


def test_vqav2_items_carry_weighted_distinct_answers_and_all_human_answers(coco):
    dataset = vqav2(coco, 'train2014')
    assert len(dataset) == 4
    colour_question = dataset[0]
    assert colour_question['question'] == 'What color is the square?'
    assert colour_question['img_path'].endswith('train2014/COCO_train2014_000000000101.jpg')
    assert colour_question['human_answers'] == human_answers('red', 0)
    assert colour_question['gt_answer'] == ['red', 'red square', 'the red', 'RED', 'white']
    assert colour_question['gt_answer_weight'] == pytest.approx([0.6, 0.1, 0.1, 0.1, 0.1])
    assert colour_question['answer_type'] == 'other' and colour_question['question_id'] == 1010
    yes_no = dataset[1]
    assert yes_no['gt_answer'] == ['yes', 'no'] and yes_no['gt_answer_weight'] == pytest.approx([0.9, 0.1])
    assert yes_no['answer_type'] == 'yes/no'


def test_vqav2_test_split_has_questions_only(coco):
    dataset = vqav2(coco, 'test2015', with_answers=False)
    assert len(dataset) == 4
    assert 'gt_answer' not in dataset[0] and dataset[0]['question_id'] == 1050


def test_vqav2_missing_image_or_annotation_is_named(coco, tmp_path):
    root = write_vqav2(tmp_path / 'coco')
    (root / 'train2014/COCO_train2014_000000000102.jpg').unlink()
    with pytest.raises(AnnotationError, match='image 102'):
        vqav2(root, 'train2014')
    annotations = json.loads((root / 'annotations/v2_mscoco_val2014_annotations.json').read_text())
    annotations['annotations'].pop()
    (root / 'annotations/v2_mscoco_val2014_annotations.json').write_text(json.dumps(annotations))
    with pytest.raises(AnnotationError, match='no annotation for question_id 1041'):
        vqav2(root, 'val2014')


def test_visual_genome_qa_finds_images_in_both_folders(tmp_path):
    root = write_visual_genome(tmp_path / 'vg')
    dataset = VisualGenomeQA(data_root=str(root))
    assert len(dataset) == 4
    assert dataset[0]['img_path'].endswith('VG_100K/1.jpg')
    assert dataset[2]['img_path'].endswith('VG_100K_2/2.jpg')
    assert dataset[3]['gt_answer'] == ['Square.'] and dataset[3]['gt_answer_weight'] == [0.2]
    assert dataset[3]['question_id'] == 201


def test_ocrvqa_splits_and_skipped_images(tmp_path):
    root = write_ocrvqa(tmp_path / 'ocr')
    sizes = {
        split: len(OCRVQA(str(root), 'images', 'annotations/dataset.json', split=split))
        for split in ('train', 'val', 'test')
    }
    assert sizes == {'train': 2, 'val': 2, 'test': 2}  # book 444 (.gif) is skipped
    item = OCRVQA(str(root), 'images', 'annotations/dataset.json', split='val')[0]
    assert item['img_path'].endswith('images/222.png')
    assert item['gt_answer'] == ['Author 222'] and item['human_answers'] == ['Author 222']
    assert item['question_id'] == '222_0' and item['gt_answer_weight'] == [1.0]
    with pytest.raises(ValueError, match='split must be one of'):
        OCRVQA(str(root), 'images', 'annotations/dataset.json', split='testdev')


def test_answer_list_file_forms_and_errors(tmp_path):
    listed = tmp_path / 'list.json'
    listed.write_text(json.dumps(['yes', 'no', 'yes', '2']))
    assert load_answer_list(str(listed)) == ['yes', 'no', '2']
    indexed = tmp_path / 'ans2label.json'
    indexed.write_text(json.dumps({'yes': 0, 'no': 1}))
    assert load_answer_list(str(indexed)) == ['yes', 'no']

    with pytest.raises(FileNotFoundError, match='answer_list.json'):  # says where BLIP's list is
        load_answer_list(str(tmp_path / 'missing.json'))
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps(['yes', 2, 'no']))
    with pytest.raises(AnnotationError, match='entry 1 is int'):
        load_answer_list(str(bad))
    bad.write_text(json.dumps('yes'))
    with pytest.raises(AnnotationError, match='list of strings'):
        load_answer_list(str(bad))
    bad.write_text('[]')
    with pytest.raises(AnnotationError, match='empty'):
        load_answer_list(str(bad))


def test_answer_list_built_from_training_annotations(coco):
    files = [str(coco / f'annotations/v2_mscoco_{s}_annotations.json') for s in ('train2014', 'val2014')]
    # Most common answers: yes x4, red x2, green x2 -> with min_count 2, most frequent first.
    assert build_answer_list(files, min_count=2) == ['yes', 'green', 'red']
    assert build_answer_list(files, min_count=3) == ['yes']
    with pytest.raises(AnnotationError, match='5 or more'):
        build_answer_list(files, min_count=5)


def test_rank_head_reads_or_builds_its_answer_list(coco, tmp_path):
    files = [str(coco / 'annotations/v2_mscoco_train2014_annotations.json')]
    model = MODELS.build(
        tiny_vqa_config(inference_method='rank', answer_list_annotations=files, min_answer_count=1)
    )
    assert model.head.answer_list == ['yes', 'green', 'red']
    assert model.head.num_ans_candidates == 3  # 128 clipped to the list
    with pytest.raises(ValueError, match='needs an answer list'):
        MODELS.build(tiny_vqa_config(inference_method='rank'))
    with pytest.raises(FileNotFoundError, match='VQA answer list not found'):
        MODELS.build(tiny_vqa_config(inference_method='rank', answer_list_path=str(tmp_path / 'none.json')))
    with pytest.raises(ValueError, match='inference_method must be one of'):
        MODELS.build(tiny_vqa_config(inference_method='ranking'))
    # Generation never reads the list, so a missing file does not matter there.
    assert (
        MODELS.build(tiny_vqa_config(answer_list_path=str(tmp_path / 'none.json'))).head.answer_list is None
    )
