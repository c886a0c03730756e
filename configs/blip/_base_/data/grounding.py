# Visual grounding data: mmpretrain's augmentation (colour jitter, relative
# crop, multi-scale resize, random placement on an image_size canvas) with
# transforms that move the box and run under numpy 2; GroundingMetric (IoU >= 0.5).
_base_ = ['./default.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.5),
    dict(type='RandomBoxCrop', min_size=(0.8, 0.8)),
    dict(
        type='RandomChoiceResize',
        scales=[(s, s) for s in (_base_.image_size, 360, 344, 312, 300, 286, 270)],
        keep_ratio=False,
    ),
    dict(type='TranslatePad', size=_base_.image_size, random_offset=True),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes'], meta_keys=['image_id', 'img_shape']),
]

# The box is predicted in the image_size input and mapped back to the original
# image through scale_factor; gt_bboxes come back to original pixels too.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize', scale=(_base_.image_size, _base_.image_size), interpolation='bicubic', backend='pillow'
    ),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes', 'scale_factor'], meta_keys=['image_id']),
]

train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='GroundingMetric')
test_evaluator = val_evaluator
