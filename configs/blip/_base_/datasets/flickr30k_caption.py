# Flickr30k captions, Karpathy split: data/flickr30k/annotations/dataset_flickr30k.json
# and the images in data/flickr30k/images/. Val and test hold one item per image
# with its captions, which CaptionMetric scores against: no ground-truth file.
_base_ = ['../data/caption.py']

data_root = 'data/flickr30k'
flickr30k = dict(
    type='Flickr30kCaption',
    data_root=data_root,
    ann_file='annotations/dataset_flickr30k.json',
    data_prefix=dict(img_path='images'),
)

train_dataloader = dict(dataset=dict(flickr30k, split='train'))
val_dataloader = dict(dataset=dict(flickr30k, split='val'))
test_dataloader = dict(dataset=dict(flickr30k, split='test'))
