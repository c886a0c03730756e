# A tiny BLIP NLVR model for the generated shapes benchmark
# (python tools/generate_shapes.py data/shapes): the NLVR2 config with small
# towers, 96 px image pairs and a short CPU schedule. With two text layers both
# use the averaged two-image cross-attention (the merge layer starts at layer 6).
_base_ = ['./blip-base_nlvr.py']

data_root = 'data/shapes/nlvr2'
image_size = 96

model = dict(
    image_encoder=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=3, num_heads=4, feedforward_channels=128),
        img_size=image_size,
    ),
    # No dropout: on a schedule of a few hundred steps the tiny towers underfit,
    # and dropout slowed learning down (measured on VQA).
    text_encoder=dict(
        config=dict(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            encoder_width=64,
            hidden_dropout_prob=0.0,
            attention_probs_dropout_prob=0.0,
        )
    ),
)

# No crop: a crop can cut a shape out of an image and falsify "the left image
# contains a red shape". The horizontal flip stays: it flips each image on its
# own, and no statement is about positions inside an image.
per_image_train = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
per_image_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
]
collate_keys = ['img', 'scale_factor', 'ori_shape']
train_pipeline = [
    dict(type='ApplyToList', scatter_key='img_path', transforms=per_image_train, collate_keys=collate_keys),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]
test_pipeline = [
    dict(type='ApplyToList', scatter_key='img_path', transforms=per_image_test, collate_keys=collate_keys),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, batch_size=16, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(loader, batch_size=32, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(loader, batch_size=32, dataset=dict(data_root=data_root, pipeline=test_pipeline))

# From scratch, so a far larger learning rate than fine-tuning's; the fused
# AdamW takes about a quarter less CPU time per step on these tiny towers.
optim_wrapper = dict(optimizer=dict(lr=3e-3, weight_decay=0.01, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=20),
]
train_cfg = dict(max_epochs=20, val_interval=20)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=20, max_keep_ckpts=1))
randomness = dict(seed=0)
