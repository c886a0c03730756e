# COCO image-text retrieval, Karpathy splits: the files BLIP and LAVIS publish,
# data/coco/annotations/coco_karpathy_{train,val,test}.json (image paths relative
# to data/coco, e.g. val2014/COCO_val2014_000000391895.jpg; 5 captions per
# image). Val and test hold one item per image with its captions (test_mode).
_base_ = ['../data/retrieval.py']

data_root = 'data/coco'
coco = dict(type='COCORetrieval', data_root=data_root)

train_dataloader = dict(dataset=dict(coco, ann_file='annotations/coco_karpathy_train.json'))
val_dataloader = dict(dataset=dict(coco, ann_file='annotations/coco_karpathy_val.json'))
test_dataloader = dict(dataset=dict(coco, ann_file='annotations/coco_karpathy_test.json'))
