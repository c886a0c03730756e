# BLIP-base visual question answering on VQAv2 (+ Visual Genome for training),
# 480 px. Model and decoding: _base_/models/blip-base_vqa.py; data and the
# test-dev/test-std results file: _base_/datasets/vqav2.py.
#
# Answers are generated (beam search) by default. BLIP's VQAv2 results, and
# mmpretrain's 78.20 test-dev accuracy in metafile.yml, rank the answers of
# BLIP's answer list instead:
#   --cfg-options model.head.inference_method=rank
# or get_model(..., head=dict(inference_method='rank')).
_base_ = [
    './_base_/models/blip-base_vqa.py',
    './_base_/datasets/vqav2.py',
    './_base_/schedules/finetune.py',
    './_base_/default_runtime.py',
]

model = dict(
    head=dict(
        # Rank mode's candidates: BLIP's 3,128 answers. Download
        # https://storage.googleapis.com/sfr-vision-language-research/datasets/answer_list.json
        # to this path, or set it to None to build the list from these
        # training annotation files instead.
        answer_list_path='data/coco/annotations/answer_list.json',
        answer_list_annotations=[
            'data/coco/annotations/v2_mscoco_train2014_annotations.json',
            'data/coco/annotations/v2_mscoco_val2014_annotations.json',
        ],
    ),
)
