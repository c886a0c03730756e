# RefCOCO+ (UNC splits: train, val, testA, testB): the RefCOCO data settings with
# data/coco/refcoco+/{instances.json,refs(unc).p}. The test dataloader reads
# testA; use --cfg-options test_dataloader.dataset.split=testB for testB.
_base_ = ['./refcoco.py']

refcocoplus = dict(ann_file='refcoco+/instances.json', split_file='refcoco+/refs(unc).p')
train_dataloader = dict(dataset=refcocoplus)
val_dataloader = dict(dataset=refcocoplus)
test_dataloader = dict(dataset=refcocoplus)
