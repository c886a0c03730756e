# blip-base_nlvr.py with the tiny towers (configs/blip/_base_/models/blip-tiny.py)
# on 64 px images, for the NLVR tests. Point it at a folder in the NLVR2 layout
# with --cfg-options data_root=DIR.
_base_ = ['../../../configs/blip/blip-base_nlvr.py', '../../../configs/blip/_base_/models/blip-tiny.py']

image_size = 64
model = dict(
    image_encoder=dict(_base_.tiny_image_encoder, img_size=image_size),
    text_encoder=dict(config=_base_.tiny_med_config),
)

per_image_train = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
per_image_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
]
train_pipeline = [
    dict(type='ApplyToList', scatter_key='img_path', transforms=per_image_train, collate_keys=['img']),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]
test_pipeline = [
    dict(type='ApplyToList', scatter_key='img_path', transforms=per_image_test, collate_keys=['img']),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
