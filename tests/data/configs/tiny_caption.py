# blip-base_caption.py with the tiny towers (configs/blip/_base_/models/blip-tiny.py)
# on 64 px images and a 2-epoch CPU schedule, for the tool tests. Point it at a
# folder in the COCO Karpathy layout with --cfg-options data_root=DIR.
_base_ = ['../../../configs/blip/blip-base_caption.py', '../../../configs/blip/_base_/models/blip-tiny.py']

image_size = 64
model = dict(
    image_encoder=dict(_base_.tiny_image_encoder, img_size=image_size),
    head=dict(decoder=dict(config=_base_.tiny_med_config)),
    generation_cfg=dict(max_length=10),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='CleanCaption', keys='gt_caption'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', meta_keys=['image_id']),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=2)]
train_cfg = dict(max_epochs=2, val_interval=10)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
randomness = dict(seed=0)
