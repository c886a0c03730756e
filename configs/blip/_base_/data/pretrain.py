# Pre-training data: image-text pairs streamed from a corpus's shards
# (ImageTextCorpus: the authors' JSON files and WebDataset tars as img2dataset
# writes them), with BLIP's pre-training augmentation at 224 px; a zero-shot
# retrieval test (ITC ranks, ITM re-ranks) of the pre-trained model. A corpus
# config (../datasets/pretrain_corpus.py) names the shards and the test data.
_base_ = ['./default.py']

image_size = 224

# BLIP's pre-training transform: crops of 20-100% of the image, flips and
# RandomAugment(2, 5). The corpus decodes the images itself (a corrupt one is
# skipped and counted), so the pipeline starts after loading.
train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=image_size,
        crop_ratio_range=(0.2, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies=_base_.blip_rand_augment, num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['image_id']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]

# The corpus splits its shards among processes and workers itself: no sampler.
train_dataloader = dict(
    batch_size=75,
    sampler=None,
    dataset=dict(type='ImageTextCorpus', pipeline=train_pipeline),
)
val_dataloader = val_cfg = val_evaluator = None
test_dataloader = dict(batch_size=64, dataset=dict(test_mode=True, pipeline=test_pipeline))
test_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))
test_cfg = dict(type='RetrievalTestLoop')
