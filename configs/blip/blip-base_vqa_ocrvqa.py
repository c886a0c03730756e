# BLIP-base VQA on OCR-VQA, zero-shot from the VQAv2 weights (generated
# answers, as mmpretrain evaluates it). Model: _base_/models/blip-base_vqa.py;
# data: _base_/datasets/ocrvqa.py.
_base_ = [
    './_base_/models/blip-base_vqa.py',
    './_base_/datasets/ocrvqa.py',
    './_base_/schedules/finetune.py',
    './_base_/default_runtime.py',
]
