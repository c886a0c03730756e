# BLIP-base image-text retrieval on Flickr30k (Karpathy test split), zero-shot
# from the COCO retrieval weights: the COCO model with Flickr30k data and, as
# BLIP evaluates Flickr30k, the 128 best ITC candidates re-ranked by ITM.
_base_ = [
    './_base_/models/blip-base_retrieval.py',
    './_base_/datasets/flickr30k_retrieval.py',
    './_base_/schedules/retrieval.py',
    './_base_/default_runtime.py',
]

model = dict(topk=128)

# The ITC distillation weight alpha rises from 0 over the first 2 epochs (mmpretrain's schedule).
custom_hooks = [
    *_base_.custom_hooks,
    dict(type='WarmupParamHook', param_name='alpha', module_name='itc_head', warmup_epochs=2),
]
