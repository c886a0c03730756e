# BLIP-base NLVR2, 384 px image pairs: validation on dev, test on test1 (test-P).
_base_ = [
    './_base_/models/blip-base_nlvr.py',
    './_base_/datasets/nlvr2.py',
    './_base_/schedules/finetune.py',
    './_base_/default_runtime.py',
]
