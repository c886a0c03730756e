# BLIP-base image-text retrieval on COCO (Karpathy splits), 384 px: ITC ranks all
# pairs, ITM re-ranks the 256 best candidates of every image and every text.
# Model: _base_/models/blip-base_retrieval.py.
_base_ = [
    './_base_/models/blip-base_retrieval.py',
    './_base_/datasets/coco_retrieval.py',
    './_base_/schedules/retrieval.py',
    './_base_/default_runtime.py',
]

# The ITC distillation weight alpha rises from 0 over the first 2 epochs (mmpretrain's schedule).
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='WarmupParamHook', param_name='alpha', module_name='itc_head', warmup_epochs=2),
]
