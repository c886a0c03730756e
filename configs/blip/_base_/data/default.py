# What the data of every BLIP task shares: the data preprocessor (BLIP's mean
# and std, once), the input size the task pipelines are built from, and the
# dataloader and loop settings. The task files next to this one add their
# pipelines, batch sizes and metrics; a dataset config
# (../datasets/<dataset>.py) adds its dataset type and files.
#
# Paths: every path of a dataset (annotation files, image folders, and the
# ground truth of CaptionMetric, which COCOCaption names as gt_file) is relative
# to that dataset's data_root, so setting a dataset's data_root moves them all;
# no metric holds a path. A config's top-level `data_root` only fills in its
# loaders: mmengine evaluates a base before its children, so a child that sets
# `data_root` again sets its loaders' `dataset.data_root` too (as
# configs/blip/examples/caption_coco_layout.py does). `--cfg-options
# data_root=DIR` of tools/train.py and tools/test.py moves every dataset that
# reads the config's data_root. Likewise a config that changes image_size states
# its pipelines again.

# BLIP's input size (the VQA data uses 480).
image_size = 384

# mmpretrain's policies for BLIP's RandomAugment(2, 5) of the training images
# (the retrieval data's; the official configs' other tasks use them too).
blip_rand_augment = [
    dict(type='AutoContrast'),
    dict(type='Equalize'),
    dict(type='Rotate', magnitude_key='angle', magnitude_range=(0, 30)),
    dict(type='Brightness', magnitude_key='magnitude', magnitude_range=(0, 0.0)),
    dict(type='Sharpness', magnitude_key='magnitude', magnitude_range=(0, 0)),
    dict(type='Shear', magnitude_key='magnitude', magnitude_range=(0, 0.3), direction='horizontal'),
    dict(type='Shear', magnitude_key='magnitude', magnitude_range=(0, 0.3), direction='vertical'),
]

data_preprocessor = dict(
    type='BlipDataPreprocessor',
    mean=[122.770938, 116.7460125, 104.09373615],
    std=[68.5005327, 66.6321579, 70.32316305],
    to_rgb=True,
)

# persistent_workers needs num_workers > 0: set it to False with num_workers=0.
train_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
)
test_dataloader = val_dataloader

# mmengine's loops; the retrieval data replaces them with its own.
val_cfg = dict()
test_cfg = dict()
