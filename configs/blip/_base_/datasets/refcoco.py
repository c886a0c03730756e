# RefCOCO (UNC splits) with the refer API's files (github.com/lichengunc/refer):
# data/coco/refcoco/{instances.json,refs(unc).p} and COCO train2014 images in
# data/coco/train2014/. Splits: train, val, testA (people), testB (objects).
# The test dataloader reads testA; for testB run tools/test.py with
# --cfg-options test_dataloader.dataset.split=testB.
data_root = 'data/coco'
refcoco = dict(ann_file='refcoco/instances.json', split_file='refcoco/refs(unc).p')

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

# mmpretrain's augmentation (colour jitter, relative crop, multi-scale resize,
# random placement on a 384 x 384 canvas) with transforms that move the box
# and run under numpy 2.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.5),
    dict(type='RandomBoxCrop', min_size=(0.8, 0.8)),
    dict(
        type='RandomChoiceResize',
        scales=[(384, 384), (360, 360), (344, 344), (312, 312), (300, 300), (286, 286), (270, 270)],
        keep_ratio=False,
    ),
    dict(type='TranslatePad', size=384, random_offset=True),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes'], meta_keys=['image_id', 'img_shape']),
]

# The box is predicted in the 384 x 384 input and mapped back to the original
# image through scale_factor; gt_bboxes come back to original pixels too.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes', 'scale_factor'], meta_keys=['image_id']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='RefCOCO',
        data_root=data_root,
        data_prefix='train2014',
        split='train',
        pipeline=train_pipeline,
        **refcoco,
    ),
)

val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='RefCOCO',
        data_root=data_root,
        data_prefix='train2014',
        split='val',
        pipeline=test_pipeline,
        **refcoco,
    ),
)
val_evaluator = dict(type='GroundingMetric')

test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='RefCOCO',
        data_root=data_root,
        data_prefix='train2014',
        split='testA',
        pipeline=test_pipeline,
        **refcoco,
    ),
)
test_evaluator = dict(type='GroundingMetric')
