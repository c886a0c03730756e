# VQAv2 (https://visualqa.org/download.html) with Visual Genome QA for training.
# In data/coco/: the COCO images in train2014/, val2014/ and test2015/, and in
# annotations/ the question files v2_OpenEnded_mscoco_{train2014,val2014,test2015}_questions.json
# and the answer files v2_mscoco_{train2014,val2014}_annotations.json.
# In data/visual_genome/: question_answers.json and the images in VG_100K/ and VG_100K_2/.
#
# Training uses train2014 + Visual Genome and validation val2014 (the official
# VQA accuracy). BLIP's released model was fine-tuned on train2014 + val2014 +
# Visual Genome for its server results: add a COCOVQA val2014 entry to
# train_dataloader.dataset.datasets to do the same. Test runs the test2015
# questions (test-dev is a subset of them) and writes the results file the
# evaluation server takes (EvalAI, VQA challenge).
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
    dict(type='RandAugment', policies='simple_increasing', num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight']),
]

# human_answers and answer_type feed the metric; splits without answers (test)
# simply lack them.
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
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='ConcatDataset',
        datasets=[
            dict(
                type='COCOVQA',
                data_root=data_root,
                data_prefix='train2014',
                question_file='annotations/v2_OpenEnded_mscoco_train2014_questions.json',
                ann_file='annotations/v2_mscoco_train2014_annotations.json',
                pipeline=train_pipeline,
            ),
            dict(
                type='VisualGenomeQA',
                data_root='data/visual_genome',
                ann_file='question_answers.json',
                image_folders=['VG_100K', 'VG_100K_2'],
                pipeline=train_pipeline,
            ),
        ],
    ),
)

val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='val2014',
        question_file='annotations/v2_OpenEnded_mscoco_val2014_questions.json',
        ann_file='annotations/v2_mscoco_val2014_annotations.json',
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='VQAAccuracy')

test_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='test2015',
        question_file='annotations/v2_OpenEnded_mscoco_test2015_questions.json',
        pipeline=test_pipeline,
    ),
)
# Writes vqa_submission.json ([{question_id, answer}]) in the run's log folder.
test_evaluator = dict(type='VQASubmission')
