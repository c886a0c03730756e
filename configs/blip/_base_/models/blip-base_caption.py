# BLIP-base captioning model: the shared towers, the text decoder and the
# decoding that reproduces mmpretrain's published caption results.
_base_ = ['./blip-base.py']

model = dict(
    type='BlipCaption',
    image_encoder=_base_.image_encoder,
    tokenizer=_base_.tokenizer,
    head=dict(
        type='SeqGenerationHead',
        decoder=dict(type='TextDecoder', config=_base_.med_config),
    ),
    prompt='a picture of ',
    max_txt_len=20,
    # Beam search as mmpretrain's caption model runs it. Lengths count the 4
    # prompt tokens ([DEC] a picture of): at most 16 new tokens.
    generation_cfg=dict(strategy='beam', num_beams=3, max_length=20, min_length=2, repetition_penalty=1.0),
)
