# MSRVTT text-video retrieval, 1k-A test split (1000 videos, one caption each),
# for zero-shot evaluation: BLIP's annotation file
# data/msrvtt/annotations/msrvtt_test.jsonl ({clip_name, caption} per line; LAVIS's
# msrvtt_ret_test1k.json-style {video, caption} list also reads) and the videos
# in data/msrvtt/videos/ (video9770.mp4, ...). Reading videos needs PyAV
# (pip install av). As BLIP, 8 uniformly sampled frames per video, each resized
# to 384 x 384.
data_root = 'data/msrvtt'

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

test_pipeline = [
    dict(type='LoadVideoFrames', num_frames=8),
    dict(
        type='ApplyToList',
        scatter_key='img',
        transforms=[dict(type='Resize', scale=(384, 384), interpolation='bicubic', backend='pillow')],
        collate_keys=['img_shape', 'scale', 'scale_factor', 'keep_ratio'],
    ),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]

test_dataloader = dict(
    batch_size=8,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='MSRVTTRetrieval',
        data_root=data_root,
        ann_file='annotations/msrvtt_test.jsonl',
        data_prefix='videos',
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_evaluator = dict(type='RetrievalMetric', topk=(1, 5, 10))
