# The BLIP-large towers: ViT-L/16 (1024-d, 24 layers, 16 heads; stochastic
# depth 0.1, as the official create_vit always gives ViT-L) and the BERT-base
# text transformer cross-attending to its 1024-d tokens. They are changes to
# blip-base.py's towers, merged into a BLIP-base task config's tower slots:
#   _base_ = ['./blip-base_caption_official.py', './_base_/models/blip-large.py']
#   model = dict(
#       image_encoder=_base_.large_image_encoder,
#       head=dict(decoder=dict(config=_base_.large_med_config)),
#   )
# (Their names differ from blip-base.py's because mmengine refuses a key defined
# in two bases of one config.)
large_image_encoder = dict(arch='l', drop_path_rate=0.1)
large_med_config = dict(encoder_width=1024)
