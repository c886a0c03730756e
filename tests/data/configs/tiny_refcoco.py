# blip-base_refcoco.py with the tiny towers (configs/blip/_base_/models/blip-tiny.py)
# on 64 px images, for the grounding tests. Point it at a folder in the RefCOCO
# layout with --cfg-options data_root=DIR.
_base_ = ['../../../configs/blip/blip-base_refcoco.py', '../../../configs/blip/_base_/models/blip-tiny.py']

image_size = 64
model = dict(
    image_encoder=dict(_base_.tiny_image_encoder, img_size=image_size),
    text_encoder=dict(config=_base_.tiny_med_config),
    multimodal_encoder=dict(config=_base_.tiny_med_config),
    head=dict(decoder=dict(config=_base_.tiny_med_config)),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomColorJitter', brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1, prob=0.5),
    dict(type='RandomBoxCrop', min_size=(0.8, 0.8)),
    dict(type='RandomChoiceResize', scales=[(64, 64), (56, 56), (48, 48)], keep_ratio=False),
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
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
