# BLIP-base pre-training model (the authors' BLIP_Pretrain): the shared towers at
# the pre-training resolution, a text decoder that shares all but its
# self-attention with the text encoder, contrastive features with momentum
# encoders and queues (ITC), the matching head (ITM) trained on hard
# negatives, and the decoder's captioning loss (LM).
_base_ = ['./blip-base.py']

model = dict(
    type='BlipPretrain',
    image_encoder=dict(_base_.image_encoder, img_size=224),
    text_encoder=dict(type='TextTransformer', config=_base_.med_config),
    text_decoder=dict(type='TextDecoder', config=_base_.med_config),
    tokenizer=_base_.tokenizer,
    embed_dim=256,
    # The queue of ITCHead (BLIP's length by default), the distillation weight 0.4,
    # the temperature clamped to [0.001, 0.5] at every step.
    itc_head=dict(type='ITCHead', alpha=0.4, temperature_range=(0.001, 0.5)),
    itm_head=dict(type='ITMHead', with_pooler=False),
    momentum=0.995,
    # Hard negatives from the similarities of the whole global batch.
    negative_all_rank=True,
    max_txt_len=30,
)
