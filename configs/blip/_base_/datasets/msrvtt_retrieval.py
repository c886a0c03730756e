# MSRVTT text-video retrieval, 1k-A test split (1000 videos, one caption each),
# for zero-shot evaluation: BLIP's annotation file
# data/msrvtt/annotations/msrvtt_test.jsonl ({clip_name, caption} per line; LAVIS's
# msrvtt_ret_test1k.json-style {video, caption} list also reads) and the videos
# in data/msrvtt/videos/ (video9770.mp4, ...). Reading videos needs PyAV
# (pip install av). As BLIP, 8 uniformly sampled frames per video, each resized
# to image_size x image_size. Test only: no training or validation split.
_base_ = ['../data/retrieval.py']

data_root = 'data/msrvtt'

test_pipeline = [
    dict(type='LoadVideoFrames', num_frames=8),
    dict(
        type='ApplyToList',
        scatter_key='img',
        transforms=[
            dict(
                type='Resize',
                scale=(_base_.image_size, _base_.image_size),
                interpolation='bicubic',
                backend='pillow',
            )
        ],
        collate_keys=['img_shape', 'scale', 'scale_factor', 'keep_ratio'],
    ),
    dict(type='CleanCaption', keys='text'),
    dict(type='PackInputs', algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], meta_keys=['image_id']),
]

train_dataloader = None
val_dataloader = None
val_evaluator = None
val_cfg = None
test_dataloader = dict(
    batch_size=8,
    dataset=dict(
        type='MSRVTTRetrieval',
        data_root=data_root,
        ann_file='annotations/msrvtt_test.jsonl',
        data_prefix='videos',
        pipeline=test_pipeline,
    ),
)
