# COCO captions, Karpathy split. The annotation files are BLIP's / LAVIS's:
# coco_karpathy_{train,val,test}.json (image paths relative to the COCO root,
# e.g. val2014/COCO_val2014_000000391895.jpg) and the COCO-format ground truth
# coco_karpathy_{val,test}_gt.json, all in data/coco/annotations/.
data_root = 'data/coco'

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

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', meta_keys=['image_id']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='COCOCaption',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_train.json',
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOCaption',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_val.json',
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='CaptionMetric', ann_file=data_root + '/annotations/coco_karpathy_val_gt.json')

test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOCaption',
        data_root=data_root,
        ann_file='annotations/coco_karpathy_test.json',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='CaptionMetric', ann_file=data_root + '/annotations/coco_karpathy_test_gt.json')
