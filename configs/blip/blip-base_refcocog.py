# BLIP-base visual grounding on RefCOCOg (UMD splits; test: test), 384 px.
_base_ = [
    './_base_/models/blip-base_grounding.py',
    './_base_/datasets/refcocog.py',
    './_base_/schedules/grounding.py',
    './_base_/default_runtime.py',
]
