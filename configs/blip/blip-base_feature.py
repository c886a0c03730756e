# The authors' pre-trained BLIP-base models (model_base_14M.pth, model_base.pth,
# model_base_capfilt_large.pth) as feature extractors at 224 px, as the official
# demo uses them: get_model(name, pretrained=True).extract_feat(images, texts=...)
# gives image tokens, text states and image-grounded text states. The same
# checkpoints start the fine-tuning of every task (the *_official.py configs).
_base_ = [
    './_base_/models/blip-base_feature.py',
    './_base_/data/default.py',
    './_base_/default_runtime.py',
]

# No data: the features are for the user's code (data/default.py gives the
# preprocessing, BLIP's mean and std).
train_dataloader = val_dataloader = test_dataloader = None
val_cfg = test_cfg = None

image_size = 224
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(image_size, image_size), interpolation='bicubic', backend='pillow'),
    dict(type='PackInputs', algorithm_keys=['text']),
]
