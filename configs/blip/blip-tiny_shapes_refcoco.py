# A tiny BLIP grounding model for the generated shapes benchmark
# (python tools/generate_shapes.py data/shapes): the RefCOCO config with small
# towers, 96 px images and a CPU schedule (the longest of the shapes tasks, see
# below). Test: the expressions of the testA images.
_base_ = ['./blip-base_refcoco.py']

data_root = 'data/shapes'
image_size = 96
# No dropout: on a schedule of a few hundred steps the tiny towers underfit, and
# dropout slowed learning down (measured on VQA).
tiny_text = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    encoder_width=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)

model = dict(
    visual_encoder=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=3, num_heads=4, feedforward_channels=128),
        img_size=image_size,
    ),
    text_encoder=dict(config=tiny_text),
    multimodal_encoder=dict(config=tiny_text),
    # 32 bins of 3 px: each bin token is the target of about 50 training
    # expressions per epoch (640 bins would leave 3), and 3 px still place the
    # smallest (21 px) shapes with IoU >= 0.5.
    head=dict(decoder=dict(med_config=tiny_text), num_bins=32),
)

# mmpretrain's augmentation scaled to 96 px. It keeps the labels: expressions
# name a shape by kind, colour or left/right position, and the crop keeps the
# referred box while the resize and placement move it with the picture.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.5),
    dict(type='RandomBoxCrop', min_size=(0.8, 0.8)),
    dict(type='RandomChoiceResize', scales=[(96, 96), (88, 88), (80, 80), (72, 72)], keep_ratio=False),
    dict(type='TranslatePad', size=image_size, random_offset=True),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes'], meta_keys=['image_id', 'img_shape']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes', 'scale_factor'], meta_keys=['image_id']),
]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, batch_size=16, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(loader, batch_size=32, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(loader, batch_size=32, dataset=dict(data_root=data_root, pipeline=test_pipeline))

# From scratch, so a far larger learning rate than fine-tuning's; the fused
# AdamW takes about a quarter less CPU time per step on these tiny towers.
# Grounding needs the longest schedule of the shapes tasks (about 3,200 steps,
# some 4 CPU minutes): the tiny model first learns the box sizes, and only after
# about 20 epochs where the named shape is.
optim_wrapper = dict(optimizer=dict(lr=2e-3, weight_decay=0.01, fused=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=30),
]
train_cfg = dict(max_epochs=30, val_interval=30)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=10, max_keep_ckpts=1))
randomness = dict(seed=0)
