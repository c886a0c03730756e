# Captioning data: BLIP's caption pipelines and batch sizes, and CaptionMetric.
# A caption dataset config adds the dataset type and files to each loader.
_base_ = ['./default.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=_base_.image_size, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='CleanCaption', keys='gt_caption'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

# gt_caption is packed for the metric of datasets without a ground-truth file;
# the model does not read it at test time.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize', scale=(_base_.image_size, _base_.image_size), interpolation='bicubic', backend='pillow'
    ),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='CaptionMetric')
test_evaluator = val_evaluator
