# Fine-tuning schedule of BLIP's VQA model (mmpretrain's: AdamW 2e-5, cosine
# over 10 epochs).
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.05))

param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10)]

train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
val_cfg = dict()
test_cfg = dict()
