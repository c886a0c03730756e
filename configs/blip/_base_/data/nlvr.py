# NLVR data: each sample is a pair of images, and the transforms in ApplyToList
# run on each image; accuracy of the true/false prediction.
_base_ = ['./default.py']

collate_keys = ['img', 'scale_factor', 'ori_shape']
train_pipeline = [
    dict(
        type='ApplyToList',
        scatter_key='img_path',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(
                type='RandomResizedCrop', scale=_base_.image_size, interpolation='bicubic', backend='pillow'
            ),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ],
        collate_keys=collate_keys,
    ),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]

test_pipeline = [
    dict(
        type='ApplyToList',
        scatter_key='img_path',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(
                type='Resize',
                scale=(_base_.image_size, _base_.image_size),
                interpolation='bicubic',
                backend='pillow',
            ),
        ],
        collate_keys=collate_keys,
    ),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]

train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='Accuracy')
test_evaluator = val_evaluator
