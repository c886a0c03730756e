# A tiny BLIP pre-trained on the generated shapes benchmark
# (python tools/generate_shapes.py data/shapes --web 2000): blip-base_pretrain.py
# with the tiny towers at 96 px and a short CPU schedule. Corpus: the clean
# training captions (the authors' JSON format) and the noisy web corpus's
# shards, or a corpus bootstrapped from it by tools/capfilt.py. Test:
# zero-shot retrieval on the shapes test split.
_base_ = ['./blip-base_pretrain.py', './_base_/models/blip-tiny.py']

data_root = 'data/shapes'
image_size = _base_.tiny_image_encoder.img_size

model = dict(
    image_encoder=_base_.tiny_image_encoder,
    text_encoder=dict(config=_base_.tiny_med_config),
    text_decoder=dict(config=_base_.tiny_med_config),
    embed_dim=32,
    # No feature queue from scratch (see blip-tiny_shapes_retrieval.py), and
    # momentum encoders that follow within tens of steps.
    itc_head=dict(queue_size=0),
    momentum=0.95,
    max_txt_len=24,
    topk=16,
)

# Resize only, as the other shapes configs (captions name colours, sizes and
# the shapes from left to right).
train_pipeline = [
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text'], meta_keys=['image_id']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]
loader = dict(num_workers=0, persistent_workers=False)
train_dataloader = dict(
    loader,
    batch_size=32,
    dataset=dict(
        data_root=data_root,
        shards=['annotations/coco_karpathy_train.json', 'web/shards/*.tar'],
        image_root='',
        pipeline=train_pipeline,
        seed=0,
    ),
)
# The shapes test split is annotations/coco_karpathy_test.json, images below data_root.
test_dataloader = dict(
    loader,
    batch_size=32,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/coco_karpathy_test.json',
        data_prefix='',
        pipeline=test_pipeline,
    ),
)

optim_wrapper = dict(optimizer=dict(lr=3e-3, weight_decay=0.01))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='ExponentialLR', gamma=0.8, by_epoch=True, begin=0, end=6),
]
train_cfg = dict(max_epochs=6)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=6, max_keep_ckpts=1))
randomness = dict(seed=0)
auto_scale_lr = None
