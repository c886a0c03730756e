# Visual question answering data: BLIP's VQA pipelines (mmpretrain's) at 480 px,
# batch sizes and the official VQA accuracy.
_base_ = ['./default.py']

image_size = 480

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=(image_size, image_size),
        crop_ratio_range=(0.5, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='simple_increasing', num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight']),
]

# human_answers, answer_type and question_type feed the metric; splits without answers (test)
# simply lack them.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question']),
    dict(
        type='PackInputs',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_weight', 'human_answers'],
        meta_keys=['question_id', 'image_id', 'answer_type', 'question_type'],
    ),
]

train_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, num_workers=8, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='VQAAccuracy')
test_evaluator = val_evaluator
