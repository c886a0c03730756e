# NLVR2 with its official annotation files: data/nlvr2/{train,dev,test1}.json
# (one JSON object per line, from github.com/lil-lab/nlvr/tree/master/nlvr2/data)
# and the images in data/nlvr2/images/: train/<directory>/train-*-img{0,1}.png
# (the numbered folders of the official download), dev/ and test1/ flat.
# test1 is the public test set (test-P).
data_root = 'data/nlvr2'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

# Each sample is a pair: the transforms in ApplyToList run on each image.
train_pipeline = [
    dict(
        type='ApplyToList',
        scatter_key='img_path',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='RandomResizedCrop', scale=384, interpolation='bicubic', backend='pillow'),
            dict(type='RandomFlip', prob=0.5, direction='horizontal'),
        ],
        collate_keys=['img', 'scale_factor', 'ori_shape'],
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
            dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
        ],
        collate_keys=['img', 'scale_factor', 'ori_shape'],
    ),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='NLVR2',
        data_root=data_root,
        ann_file='train.json',
        data_prefix='images/train',
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NLVR2',
        data_root=data_root,
        ann_file='dev.json',
        data_prefix='images/dev',
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='Accuracy')

test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NLVR2',
        data_root=data_root,
        ann_file='test1.json',
        data_prefix='images/test1',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='Accuracy')
