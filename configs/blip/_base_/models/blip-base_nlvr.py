# BLIP-base NLVR2 model: the shared towers; the text tower cross-attends to the
# left and to the right image in two branches per layer (averaged in layers
# 0-5, merged by a linear layer from merge_layer 6 on); an MLP head on [CLS].
_base_ = ['./blip-base.py']

model = dict(
    type='BlipNLVR',
    image_encoder=_base_.image_encoder,
    text_encoder=dict(type='TextTransformer', config=_base_.med_config, num_images=2, merge_layer=6),
    tokenizer=_base_.tokenizer,
    max_txt_len=35,
)
