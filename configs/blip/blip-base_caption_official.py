# BLIP-base captioning on COCO as the authors ran it (github.com/salesforce/BLIP,
# configs/caption_coco.yaml): the released model_base_caption_capfilt_large.pth
# (and the Hugging Face Salesforce/blip-image-captioning-base) decodes with their
# settings, and training fine-tunes from the pre-trained checkpoint they
# started from (README: model_base_capfilt_large.pth) with their
# hyper-parameters: lr 1e-5, 5 epochs, 32 images per GPU on 8 GPUs.
# The official weights convert when they are loaded (load_from, get_model).
_base_ = ['./blip-base_caption.py', './_base_/official_checkpoints.py']

model = dict(
    # The official decoder trains on prompt + caption up to 40 tokens.
    max_txt_len=40,
    # Beam search as the official code runs it (transformers 4.15): scores are
    # divided by the whole length, prompt included; 3 beams, 5 to 20 tokens
    # with the 4 prompt tokens ([DEC] a picture of).
    generation_cfg=dict(min_length=5, beam_length='total'),
)

load_from = _base_.official_models + '/model_base_capfilt_large.pth'

# BLIP's training augmentation (data/__init__.py): a crop of at least half the
# image, a flip and RandomAugment(2, 5), here as the retrieval data's policies.
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=_base_.image_size,
        crop_ratio_range=(0.5, 1.0),
        interpolation='bicubic',
        backend='pillow',
    ),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies=_base_.blip_rand_augment, num_policies=2, magnitude_level=5),
    dict(type='CleanCaption', keys='gt_caption'),
    dict(type='PackInputs', algorithm_keys=['gt_caption'], meta_keys=['image_id']),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

# AdamW, weight decay 0.05, cosine to 0 over the epochs (train_caption.py), no warm-up.
optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=0.05))
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=5)]
train_cfg = dict(max_epochs=5)
# 8 GPUs x 32 images; tools/train.py --auto-scale-lr scales lr to another total batch.
auto_scale_lr = dict(base_batch_size=256)
