# OCR-VQA (https://ocr-vqa.github.io/) in data/ocrvqa/: annotations/dataset.json
# and the book covers in images/ as the dataset's download script names them
# (<book id>.jpg / .png). One answer per question: a question scores 1 when the
# normalised answers are equal. As in mmpretrain, ground-truth answers are
# cleaned like the questions (lower case, no punctuation) before scoring.
data_root = 'data/ocrvqa'

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
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight']),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(480, 480), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer'], meta_keys=['question_id']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='OCRVQA',
        data_root=data_root,
        data_prefix='images',
        ann_file='annotations/dataset.json',
        split='train',
        pipeline=train_pipeline,
    ),
)

val_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OCRVQA',
        data_root=data_root,
        data_prefix='images',
        ann_file='annotations/dataset.json',
        split='val',
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='VQAAccuracy')

test_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='OCRVQA',
        data_root=data_root,
        data_prefix='images',
        ann_file='annotations/dataset.json',
        split='test',
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='VQAAccuracy')
