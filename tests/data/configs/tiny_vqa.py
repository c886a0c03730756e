# blip-base_vqa.py with the tiny towers (configs/blip/_base_/models/blip-tiny.py)
# on 64 px images and a 1-epoch CPU schedule, for the VQA tests. Set data_root
# (and the Visual Genome root) to folders in the VQAv2 / Visual Genome layouts.
_base_ = ['../../../configs/blip/blip-base_vqa.py', '../../../configs/blip/_base_/models/blip-tiny.py']

image_size = 64
model = dict(
    image_encoder=dict(_base_.tiny_image_encoder, img_size=image_size),
    text_encoder=dict(config=_base_.tiny_med_config),
    head=dict(decoder=dict(config=_base_.tiny_med_config)),
    generation_cfg=dict(max_length=6),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=image_size, interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question']),
    dict(
        type='PackInputs',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_weight', 'human_answers'],
        meta_keys=['question_id', 'image_id', 'answer_type', 'question_type'],
    ),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(
    loader,
    dataset=dict(
        datasets=[
            dict(_base_.train_dataloader.dataset.datasets[0], pipeline=train_pipeline),
            dict(type='VisualGenomeQA', data_root='data/visual_genome', pipeline=train_pipeline),
        ]
    ),
)
val_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))
test_dataloader = dict(loader, dataset=dict(pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=1)]
train_cfg = dict(max_epochs=1, val_interval=1)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))
randomness = dict(seed=0)
