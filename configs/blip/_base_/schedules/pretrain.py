# BLIP's pre-training schedule (configs/pretrain.yaml, pretrain.py of
# github.com/salesforce/BLIP): AdamW with weight decay 0.05; the learning rate
# warmed up from 1e-6 to 3e-4 over the first 3000 steps, then multiplied by 0.9
# every epoch (epoch e: 3e-4 * 0.9^e); 20 epochs.
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.05))

param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 3e-4, by_epoch=False, begin=0, end=3000),
    dict(type='ExponentialLR', gamma=0.9, by_epoch=True, begin=0, end=20),
]

train_cfg = dict(by_epoch=True, max_epochs=20)
