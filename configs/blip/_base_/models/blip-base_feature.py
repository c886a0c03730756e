# BLIP-base features (the official demo's blip_feature_extractor): the shared
# towers at the pre-training resolution, 224 px; image tokens, text states and
# image-grounded text states (BlipFeatureExtractor).
_base_ = ['./blip-base.py']

model = dict(
    type='BlipFeatureExtractor',
    image_encoder=dict(_base_.image_encoder, img_size=224),
    text_encoder=dict(type='TextTransformer', config=_base_.med_config),
    tokenizer=_base_.tokenizer,
)
