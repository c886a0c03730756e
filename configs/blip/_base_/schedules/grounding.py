# Fine-tuning schedule of mmpretrain's BLIP grounding model (blip-base_8xb16_refcoco:
# 8 GPUs x 16 expressions).
_base_ = ['./finetune.py']

optim_wrapper = dict(optimizer=dict(lr=1.5e-5, weight_decay=0.02))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=120)]
train_cfg = dict(max_epochs=120)
