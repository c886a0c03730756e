# Flickr30k captions, Karpathy split: data/flickr30k/annotations/dataset_flickr30k.json
# and the images in data/flickr30k/images/. Val and test hold one item per image
# with its captions, which CaptionMetric scores against: no ground-truth file.
data_root = 'data/flickr30k'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=384, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='CleanCaption', keys='gt_caption'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

# gt_caption is packed for the metric; the model does not read it at test time.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='Flickr30kCaption',
        data_root=data_root,
        ann_file='annotations/dataset_flickr30k.json',
        data_prefix=dict(img_path='images'),
        split='train',
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='Flickr30kCaption',
        data_root=data_root,
        ann_file='annotations/dataset_flickr30k.json',
        data_prefix=dict(img_path='images'),
        split='val',
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='CaptionMetric', ann_file=None)

test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='Flickr30kCaption',
        data_root=data_root,
        ann_file='annotations/dataset_flickr30k.json',
        data_prefix=dict(img_path='images'),
        split='test',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='CaptionMetric', ann_file=None)
