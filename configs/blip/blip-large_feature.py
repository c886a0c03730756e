# The authors' pre-trained BLIP-large model (model_large.pth, ViT-L/16) as a
# feature extractor at 224 px; see blip-base_feature.py.
_base_ = ['./blip-base_feature.py', './_base_/models/blip-large.py']

model = dict(
    image_encoder=_base_.large_image_encoder,
    text_encoder=dict(config=_base_.large_med_config),
)
