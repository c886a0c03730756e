# Image-text retrieval data: BLIP's retrieval pipelines (mmpretrain's), batch
# sizes, RetrievalMetric and the retrieval loops, which score a whole split at
# once (features once, ITC ranking, ITM re-rank of the best candidates). Val
# and test datasets hold one item per image with its captions (test_mode).
_base_ = ['./default.py']

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=_base_.image_size,
        crop_ratio_range=(0.5, 1.0),
        interpolation='bicubic',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies=_base_.blip_rand_augment, num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'is_matched'], meta_keys=['image_id']),
]

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='Resize', scale=(_base_.image_size, _base_.image_size), interpolation='bicubic', backend='pillow'
    ),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]

train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=64, dataset=dict(test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader

# Recall@1/5/10 of text retrieval (i2t/...) and image retrieval (t2i/...).
val_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))
test_evaluator = val_evaluator
val_cfg = dict(type='RetrievalValLoop')
test_cfg = dict(type='RetrievalTestLoop')
