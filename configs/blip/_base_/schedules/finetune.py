# BLIP's fine-tuning schedule (mmpretrain's): AdamW and a cosine decay over the
# epochs, validation after every epoch. The values are the NLVR and VQA ones;
# the task schedules next to this file change the learning rate, the weight
# decay and the number of epochs (the cosine decay's end is the last epoch:
# change both). The val and test loops come with the data (../data/).
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.05))

param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=10)]

train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=1)
