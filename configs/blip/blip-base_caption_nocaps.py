# BLIP-base captioning evaluated on NoCaps val, zero-shot from the COCO weights
# (evaluation only: no training schedule). Test: python tools/test.py.
_base_ = [
    './_base_/models/blip-base_caption.py',
    './_base_/datasets/nocaps.py',
    './_base_/default_runtime.py',
]
