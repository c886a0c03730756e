# Captioning on a dataset of your own in the COCO Karpathy layout
# (docs/user_guides/datasets.md, "Add a dataset"): BLIP-base captioning as
# configured for COCO, reading another folder. Every path of the COCO caption
# data is relative to its datasets' data_root, so they all move with it:
#   annotations/coco_karpathy_{train,val,test}.json   the splits
#   annotations/coco_karpathy_{val,test}_gt.json      the metric's ground truth
# and the images where the splits' `image` paths point.
_base_ = ['../blip-base_caption.py']

data_root = 'data/my_captions'
train_dataloader = dict(dataset=dict(data_root=data_root))
val_dataloader = dict(dataset=dict(data_root=data_root))
test_dataloader = dict(dataset=dict(data_root=data_root))
