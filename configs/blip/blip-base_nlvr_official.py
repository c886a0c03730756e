# BLIP-base NLVR2 as the authors ran it (github.com/salesforce/BLIP, configs/nlvr.yaml):
# the released model_base_nlvr.pth reads statements as they trained it, and
# training fine-tunes from the pre-trained checkpoint they started from
# (README: model_base.pth; each layer's two cross-attention branches start from
# its one pre-trained cross-attention, the classifier and the merge layers
# afresh) with their hyper-parameters: lr 3e-5, 15 epochs, 16 pairs per GPU on
# 16 GPUs.
_base_ = ['./blip-base_nlvr.py', './_base_/official_checkpoints.py']

# The official model starts the statement with [ENC].
model = dict(first_token='enc')

load_from = _base_.official_models + '/model_base.pth'

train_dataloader = dict(batch_size=16)
# AdamW, weight decay 0.05, cosine to 0 over 15 epochs (train_nlvr.py), no warm-up.
optim_wrapper = dict(optimizer=dict(lr=3e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=15)]
train_cfg = dict(max_epochs=15)
# 16 GPUs x 16 pairs; tools/train.py --auto-scale-lr scales lr to another total batch.
auto_scale_lr = dict(base_batch_size=256)
