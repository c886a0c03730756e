# blip-base_nlvr.py with tiny towers and 64 px images, for the NLVR tests. Point
# data_root at a folder in the NLVR2 layout with --cfg-options.
_base_ = ['../../../configs/blip/blip-base_nlvr.py']

tiny_sizes = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, encoder_width=32
)
model = dict(
    image_encoder=dict(
        arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=64,
    ),
    text_encoder=dict(config=tiny_sizes),
)

per_image_train = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, interpolation='bicubic', backend='pillow'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
]
per_image_test = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic', backend='pillow'),
]
train_pipeline = [
    dict(type='ApplyToList', scatter_key='img_path', transforms=per_image_train, collate_keys=['img']),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]
test_pipeline = [
    dict(type='ApplyToList', scatter_key='img_path', transforms=per_image_test, collate_keys=['img']),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['identifier']),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
