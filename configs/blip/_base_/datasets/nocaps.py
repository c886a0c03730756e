# NoCaps: data/nocaps/annotations/nocaps_val_4500_captions.json and the images
# in data/nocaps/images/. Test captions are held by the NoCaps evaluation
# server, so val serves as val and as test here. For a server submission, set
# test_dataloader.dataset.ann_file to 'annotations/nocaps_test_image_info.json':
# the metric then only writes the predictions file ([{image_id, caption}]).
data_root = 'data/nocaps'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

# gt_caption is packed for the metric; the model does not read it at test time.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
val_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NoCaps',
        data_root=data_root,
        ann_file='annotations/nocaps_val_4500_captions.json',
        data_prefix=dict(img_path='images'),
        pipeline=test_pipeline,
    ),
)
val_evaluator = dict(type='CaptionMetric', ann_file=None)

test_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='NoCaps',
        data_root=data_root,
        ann_file='annotations/nocaps_val_4500_captions.json',
        data_prefix=dict(img_path='images'),
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='CaptionMetric', ann_file=None)
