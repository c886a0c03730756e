# blip-base_retrieval.py with the tiny towers (configs/blip/_base_/models/blip-tiny.py)
# on 64 px images and a 2-epoch CPU schedule, for the loop and tool tests. Point
# it at a folder in the COCO Karpathy layout with --cfg-options data_root=DIR.
_base_ = [
    '../../../configs/blip/blip-base_retrieval.py',
    '../../../configs/blip/_base_/models/blip-tiny.py',
]

image_size = 64
model = dict(
    image_encoder=dict(_base_.tiny_image_encoder, img_size=image_size),
    text_encoder=dict(config=_base_.tiny_med_config),
    embed_dim=16,
    itc_head=dict(queue_size=8),
    topk=3,
    rerank_batch_size=5,
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size, crop_ratio_range=(0.5, 1.0), interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies=_base_.blip_rand_augment, num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'is_matched'], meta_keys=['image_id']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
# Four captions per batch (three per image): every batch has a negative image for ITM.
train_dataloader = dict(loader, batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=2)]
train_cfg = dict(max_epochs=2, val_interval=2)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2))
randomness = dict(seed=0)
