# BLIP-base captioning on Flickr30k (Karpathy splits): the COCO caption model and
# its decoding, with Flickr30k data.
_base_ = [
    './_base_/models/blip-base_caption.py',
    './_base_/datasets/flickr30k_caption.py',
    './_base_/schedules/caption.py',
    './_base_/default_runtime.py',
]
