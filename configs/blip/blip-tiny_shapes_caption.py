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
_base_ = ['./blip-base_caption.py', './_base_/models/blip-tiny.py']

data_root = 'data/shapes'
image_size = _base_.tiny_image_encoder.img_size

model = dict(
    image_encoder=_base_.tiny_image_encoder,
    # The shipped checkpoint was trained with BLIP's dropout.
    head=dict(
        decoder=dict(
            config=dict(_base_.tiny_med_config, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
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

optim_wrapper = dict(optimizer=dict(lr=3e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=6),
]
train_cfg = dict(max_epochs=6, val_interval=6)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=3, max_keep_ckpts=2))
randomness = dict(seed=0)
