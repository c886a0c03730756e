# Fine-tuning schedule of BLIP's retrieval models (mmpretrain's): 6 epochs of
# AdamW with a cosine decay. The loops score the whole split at once (features
# once, ITC ranking, ITM re-rank of the top candidates).
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=2e-5, weight_decay=0.04))

param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=6)]

train_cfg = dict(by_epoch=True, max_epochs=6, val_interval=1)
val_cfg = dict(type='RetrievalValLoop')
test_cfg = dict(type='RetrievalTestLoop')
