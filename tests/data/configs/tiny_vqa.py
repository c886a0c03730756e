# blip-base_vqa.py with tiny towers, 64 px images and a 1-epoch CPU schedule,
# for the VQA tests. Set data_root (and the Visual Genome root) to folders in
# the VQAv2 / Visual Genome layouts.
_base_ = ['../../../configs/blip/blip-base_vqa.py']

tiny_sizes = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, encoder_width=32
)
model = dict(
    image_encoder=dict(
        arch=dict(_delete_=True, embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
        img_size=64,
    ),
    text_encoder=dict(config=tiny_sizes),
    head=dict(decoder=dict(config=tiny_sizes)),
    generation_cfg=dict(max_length=6),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=64, interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question', 'gt_answer']),
    dict(type='PackInputs', algorithm_keys=['question', 'gt_answer', 'gt_answer_weight']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(64, 64), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys=['question']),
    dict(
        type='PackInputs',
        algorithm_keys=['question', 'gt_answer', 'gt_answer_weight', 'human_answers'],
        meta_keys=['question_id', 'image_id', 'answer_type'],
    ),
]
loader = dict(batch_size=2, num_workers=0, persistent_workers=False)
train_dataloader = dict(
    loader,
    dataset=dict(
        datasets=[
            dict(
                type='COCOVQA',
                data_root='data/coco',
                data_prefix='train2014',
                question_file='annotations/v2_OpenEnded_mscoco_train2014_questions.json',
                ann_file='annotations/v2_mscoco_train2014_annotations.json',
                pipeline=train_pipeline,
            ),
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
