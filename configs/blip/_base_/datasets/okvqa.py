# OK-VQA (https://okvqa.allenai.org/download.html) in data/coco/: the COCO
# images in train2014/ and val2014/, and in annotations/ the OK-VQA files
# renamed okvqa_OpenEnded_mscoco_{train2014,val2014}_questions.json and
# okvqa_mscoco_{train2014,val2014}_annotations.json (mmpretrain's names).
# OK-VQA's evaluation split is its val2014 split (there is no other): it
# serves for validation and test. Each question has ten human answers, scored
# with the official VQA accuracy.
_base_ = ['../data/vqa.py']

data_root = 'data/coco'

# mmpretrain's OK-VQA training has no RandAugment.
train_pipeline = [t for t in _base_.train_pipeline if t.type != 'RandAugment']

train_dataloader = dict(
    batch_size=16,
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
    dataset=dict(
        type='COCOVQA',
        data_root=data_root,
        data_prefix='val2014',
        question_file='annotations/okvqa_OpenEnded_mscoco_val2014_questions.json',
        ann_file='annotations/okvqa_mscoco_val2014_annotations.json',
    ),
)
val_dataloader = test_dataloader
