# BLIP-base visual grounding on RefCOCO (UNC splits), 384 px. The test dataloader reads testA; for
# testB add --cfg-options test_dataloader.dataset.split=testB.
_base_ = [
    './_base_/models/blip-base_grounding.py',
    './_base_/datasets/refcoco.py',
    './_base_/schedules/grounding.py',
    './_base_/default_runtime.py',
]
