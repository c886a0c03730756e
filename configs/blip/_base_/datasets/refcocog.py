# RefCOCOg (UMD splits: train, val, test): the RefCOCO data settings with
# data/coco/refcocog/{instances.json,refs(umd).p}.
_base_ = ['./refcoco.py']

refcocog = dict(ann_file='refcocog/instances.json', split_file='refcocog/refs(umd).p')
train_dataloader = dict(dataset=refcocog)
val_dataloader = dict(dataset=refcocog)
test_dataloader = dict(dataset=dict(refcocog, split='test'))
