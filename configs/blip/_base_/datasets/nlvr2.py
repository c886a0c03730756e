# NLVR2 with its official annotation files: data/nlvr2/{train,dev,test1}.json
# (one JSON object per line, from github.com/lil-lab/nlvr/tree/master/nlvr2/data)
# and the images in data/nlvr2/images/: train/<directory>/train-*-img{0,1}.png
# (the numbered folders of the official download), dev/ and test1/ flat.
# test1 is the public test set (test-P).
_base_ = ['../data/nlvr.py']

data_root = 'data/nlvr2'

train_dataloader = dict(
    dataset=dict(type='NLVR2', data_root=data_root, ann_file='train.json', data_prefix='images/train')
)
val_dataloader = dict(
    dataset=dict(type='NLVR2', data_root=data_root, ann_file='dev.json', data_prefix='images/dev')
)
test_dataloader = dict(
    dataset=dict(type='NLVR2', data_root=data_root, ann_file='test1.json', data_prefix='images/test1')
)
