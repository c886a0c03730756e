# RefCOCO (UNC splits) with the refer API's files (github.com/lichengunc/refer):
# data/coco/refcoco/{instances.json,refs(unc).p} and COCO train2014 images in
# data/coco/train2014/. Splits: train, val, testA (people), testB (objects).
# The test dataloader reads testA; for testB run tools/test.py with
# --cfg-options test_dataloader.dataset.split=testB.
_base_ = ['../data/grounding.py']

data_root = 'data/coco'
refcoco = dict(
    type='RefCOCO',
    data_root=data_root,
    data_prefix='train2014',
    ann_file='refcoco/instances.json',
    split_file='refcoco/refs(unc).p',
)

train_dataloader = dict(dataset=dict(refcoco, split='train'))
val_dataloader = dict(dataset=dict(refcoco, split='val'))
test_dataloader = dict(dataset=dict(refcoco, split='testA'))
