# Flickr30k image-text retrieval, Karpathy splits (test: 1000 images, 5000 captions):
# data/flickr30k/annotations/dataset_flickr30k.json and the images in
# data/flickr30k/images/. With BLIP's / LAVIS's one-file-per-split
# flickr30k_{train,val,test}.json instead, set ann_file to that file, split=None
# and data_prefix to the folder its `image` paths are relative to.
data_root = 'data/flickr30k'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

rand_increasing_policies = [
    dict(type='AutoContrast'),
    dict(type='Equalize'),
    dict(type='Rotate', magnitude_key='angle', magnitude_range=(0, 30)),
    dict(type='Brightness', magnitude_key='magnitude', magnitude_range=(0, 0.0)),
    dict(type='Sharpness', magnitude_key='magnitude', magnitude_range=(0, 0)),
    dict(type='Shear', magnitude_key='magnitude', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_key='magnitude', magnitude_range=(0, 0.3), direction='vertical'),
]

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=384, crop_ratio_range=(0.5, 1.0), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies=rand_increasing_policies, num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'is_matched'], meta_keys=['image_id']),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='Flickr30kRetrieval',
        data_root=data_root,
        ann_file='annotations/dataset_flickr30k.json',
        split='train',
        data_prefix='images',
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='Flickr30kRetrieval',
        data_root=data_root,
        ann_file='annotations/dataset_flickr30k.json',
        split='val',
        data_prefix='images',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))

test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='Flickr30kRetrieval',
        data_root=data_root,
        ann_file='annotations/dataset_flickr30k.json',
        split='test',
        data_prefix='images',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))
