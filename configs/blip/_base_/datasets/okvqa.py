# OK-VQA (https://okvqa.allenai.org/download.html) in data/coco/: the COCO
# images in train2014/ and val2014/, and in annotations/ the OK-VQA files
# renamed okvqa_OpenEnded_mscoco_{train2014,val2014}_questions.json and
# okvqa_mscoco_{train2014,val2014}_annotations.json (mmpretrain's names).
# OK-VQA's evaluation split is its val2014 split (there is no other): it
# serves for validation and test. Each question has ten human answers, scored
# with the official VQA accuracy.
data_root = 'data/coco'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=(480, 480),
        crop_ratio_range=(0.5, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight']),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 480), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question']),
    dict(
        type='PackInputs',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_weight', 'human_answers'],
        meta_keys=['question_id', 'image_id', 'answer_type'],
    ),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='train2014',
        question_file='annotations/okvqa_OpenEnded_mscoco_train2014_questions.json',
        ann_file='annotations/okvqa_mscoco_train2014_annotations.json',
        pipeline=train_pipeline,
    ),
)

test_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='val2014',
        question_file='annotations/okvqa_OpenEnded_mscoco_val2014_questions.json',
        ann_file='annotations/okvqa_mscoco_val2014_annotations.json',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='VQAAccuracy')
val_dataloader = test_dataloader
val_evaluator = test_evaluator
