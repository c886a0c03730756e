# BLIP-base image captioning on COCO (Karpathy splits), 384 px.
# Model, prompt and decoding: _base_/models/blip-base_caption.py.
_base_ = [
    './_base_/models/blip-base_caption.py',
    './_base_/datasets/coco_caption.py',
    './_base_/schedules/caption.py',
    './_base_/default_runtime.py',
]
