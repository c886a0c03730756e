# Flickr30k image-text retrieval, Karpathy splits (test: 1000 images, 5000 captions):
# data/flickr30k/annotations/dataset_flickr30k.json and the images in
# data/flickr30k/images/. With BLIP's / LAVIS's one-file-per-split
# flickr30k_{train,val,test}.json instead, set ann_file to that file, split=None
# and data_prefix to the folder its `image` paths are relative to.
_base_ = ['../data/retrieval.py']

data_root = 'data/flickr30k'
flickr30k = dict(
    type='Flickr30kRetrieval',
    data_root=data_root,
    ann_file='annotations/dataset_flickr30k.json',
    data_prefix='images',
)

train_dataloader = dict(dataset=dict(flickr30k, split='train'))
val_dataloader = dict(dataset=dict(flickr30k, split='val'))
test_dataloader = dict(dataset=dict(flickr30k, split='test'))
