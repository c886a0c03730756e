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
_base_ = ['../data/vqa.py']

data_root = 'data/coco'

# The datasets in the ConcatDataset have their pipeline (the wrapper takes none).
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type='COCOVQA',
                data_root=data_root,
                data_prefix='train2014',
                question_file='annotations/v2_OpenEnded_mscoco_train2014_questions.json',
                ann_file='annotations/v2_mscoco_train2014_annotations.json',
                pipeline=_base_.train_pipeline,
            ),
            dict(
                type='VisualGenomeQA',
                data_root='data/visual_genome',
                ann_file='question_answers.json',
                image_folders=['VG_100K', 'VG_100K_2'],
                pipeline=_base_.train_pipeline,
            ),
        ],
    ),
)
val_dataloader = dict(
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='val2014',
        question_file='annotations/v2_OpenEnded_mscoco_val2014_questions.json',
        ann_file='annotations/v2_mscoco_val2014_annotations.json',
    )
)
test_dataloader = dict(
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='test2015',
        question_file='annotations/v2_OpenEnded_mscoco_test2015_questions.json',
    )
)
# Writes vqa_submission.json ([{question_id, answer}]) in the run's log folder.
test_evaluator = dict(type='VQASubmission')
