# COCO captions, Karpathy split. The annotation files are BLIP's / LAVIS's:
# coco_karpathy_{train,val,test}.json (image paths relative to the COCO root,
# e.g. val2014/COCO_val2014_000000391895.jpg) and the COCO-format ground truth
# coco_karpathy_{val,test}_gt.json, all in data/coco/annotations/.
_base_ = ['../data/caption.py']

data_root = 'data/coco'
coco = dict(type='COCOCaption', data_root=data_root)

train_dataloader = dict(dataset=dict(coco, ann_file='annotations/coco_karpathy_train.json'))
val_dataloader = dict(
    dataset=dict(
        coco,
        ann_file='annotations/coco_karpathy_val.json',
        gt_file='annotations/coco_karpathy_val_gt.json',
    )
)
test_dataloader = dict(
    dataset=dict(
        coco,
        ann_file='annotations/coco_karpathy_test.json',
        gt_file='annotations/coco_karpathy_test_gt.json',
    )
)
