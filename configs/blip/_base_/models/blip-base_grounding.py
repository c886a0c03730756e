# BLIP-base visual grounding (mmpretrain's RefCOCO model): a text-only encoder,
# a multimodal encoder fed with its states, and a decoder that writes the box
# (cx, cy, w, h) as four bin tokens [unused340 + int(c * num_bins)].
_base_ = ['./blip-base.py']

model = dict(
    type='BlipGrounding',
    image_encoder=_base_.image_encoder,
    text_encoder=dict(type='TextTransformer', config=_base_.med_config),
    multimodal_encoder=dict(type='TextTransformer', config=_base_.med_config),
    tokenizer=_base_.tokenizer,
    head=dict(
        type='GroundingHead',
        decoder=dict(type='TextDecoder', config=_base_.med_config),
        num_bins=640,
        # Weights of the logged, gradient-free `loss_seq` (mmpretrain's).
        box_l1_loss_coeff=4.0,
        box_giou_loss_coeff=2.0,
    ),
    max_txt_len=128,
)
