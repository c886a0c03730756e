# Fine-tuning schedule of BLIP's retrieval models (mmpretrain's): 6 epochs.
_base_ = ['./finetune.py']

optim_wrapper = dict(optimizer=dict(weight_decay=0.04))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=6)]
train_cfg = dict(max_epochs=6)
