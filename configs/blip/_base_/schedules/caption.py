# Fine-tuning schedule of BLIP's captioning models (mmpretrain's).
_base_ = ['./finetune.py']

optim_wrapper = dict(optimizer=dict(lr=1e-5))
