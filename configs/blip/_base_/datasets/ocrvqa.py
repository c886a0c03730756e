# OCR-VQA (https://ocr-vqa.github.io/) in data/ocrvqa/: annotations/dataset.json
# and the book covers in images/ as the dataset's download script names them
# (<book id>.jpg / .png). One answer per question: a question scores 1 when the
# normalised answers are equal. As in mmpretrain, ground-truth answers are
# cleaned like the questions (lower case, no punctuation) before scoring.
_base_ = ['../data/vqa.py']

data_root = 'data/ocrvqa'
ocrvqa = dict(type='OCRVQA', data_root=data_root, data_prefix='images', ann_file='annotations/dataset.json')

# mmpretrain's OCR-VQA training augments less: no flip, no RandAugment.
train_pipeline = [t for t in _base_.train_pipeline if t.type not in ('RandomFlip', 'RandAugment')]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize', scale=(_base_.image_size, _base_.image_size), interpolation='bicubic', backend='pillow'
    ),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer'], meta_keys=['question_id']),
]

train_dataloader = dict(batch_size=16, dataset=dict(ocrvqa, split='train', pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(ocrvqa, split='val', pipeline=test_pipeline))
test_dataloader = dict(batch_size=64, dataset=dict(ocrvqa, split='test', pipeline=test_pipeline))
