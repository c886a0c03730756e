# COCO image-text retrieval, Karpathy splits: the files BLIP and LAVIS publish,
# data/coco/annotations/coco_karpathy_{train,val,test}.json (image paths relative
# to data/coco, e.g. val2014/COCO_val2014_000000391895.jpg; 5 captions per
# image). Val and test hold one item per image with its captions (test_mode).
data_root = 'data/coco'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

# mmpretrain's retrieval augmentation (BLIP's RandomAugment policies).
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
        type='COCORetrieval',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_train.json',
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCORetrieval',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_val.json',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
# Recall@1/5/10 of text retrieval (i2t/...) and image retrieval (t2i/...).
val_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))

test_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCORetrieval',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_test.json',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))
