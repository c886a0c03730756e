# blip-base_refcoco.py with tiny towers and 64 px images, for the grounding
# tests. Point data_root at a folder in the RefCOCO layout with --cfg-options.
_base_ = ['../../../configs/blip/blip-base_refcoco.py']

tiny_sizes = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, encoder_width=32
)
model = dict(
    image_encoder=dict(
        arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=64,
    ),
    text_encoder=dict(config=tiny_sizes),
    multimodal_encoder=dict(config=tiny_sizes),
    head=dict(decoder=dict(config=tiny_sizes)),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.5),
    dict(type='RandomBoxCrop', min_size=(0.8, 0.8)),
    dict(type='RandomChoiceResize', scales=[(64, 64), (56, 56), (48, 48)], keep_ratio=False),
    dict(type='TranslatePad', size=64, random_offset=True),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes'], meta_keys=['image_id', 'img_shape']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_bboxes', 'scale_factor'], meta_keys=['image_id']),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
