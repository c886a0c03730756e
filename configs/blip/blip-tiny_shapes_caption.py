# A tiny BLIP captioner for the generated shapes benchmark
# (python tools/generate_shapes.py data/shapes): the COCO caption config with
# small towers, 96 px images and a short CPU schedule.
#
# The shipped checkpoints/blip-tiny_shapes_caption-*.pth was trained with
#   python tools/generate_shapes.py data/shapes --train 2000 --val 60 --test 100
#   python tools/train.py configs/blip/blip-tiny_shapes_caption.py --cfg-options \
#       train_cfg.max_epochs=12 param_scheduler.1.end=12 train_dataloader.batch_size=32
#   python tools/publish_model.py work_dirs/blip-tiny_shapes_caption/epoch_12.pth \
#       checkpoints/blip-tiny_shapes_caption.pth
# (about 30 minutes on 2 CPU cores).
_base_ = ['./blip-base_caption.py']

data_root = 'data/shapes'
image_size = 96

model = dict(
    image_encoder=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=3, num_heads=4, feedforward_channels=128),
        img_size=image_size,
    ),
    head=dict(
        decoder=dict(
            config=dict(
                hidden_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                intermediate_size=128,
                encoder_width=64,
            )
        )
    ),
)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='gt_caption'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', meta_keys=['image_id']),
]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(loader, batch_size=16, dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(loader, batch_size=32, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(loader, batch_size=32, dataset=dict(data_root=data_root, pipeline=test_pipeline))
val_evaluator = dict(ann_file=data_root + '/annotations/coco_karpathy_val_gt.json')
test_evaluator = dict(ann_file=data_root + '/annotations/coco_karpathy_test_gt.json')

optim_wrapper = dict(optimizer=dict(lr=3e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=6),
]
train_cfg = dict(max_epochs=6, val_interval=6)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=3, max_keep_ckpts=2))
randomness = dict(seed=0)
