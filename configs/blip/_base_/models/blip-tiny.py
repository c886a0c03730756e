# The tiny towers of the shapes benchmark (configs/blip/blip-tiny_shapes_*.py) and
# of the tests: 64-d, a 3-layer ViT with 4 heads on 96 px images, a 2-layer text
# transformer, feed-forward width 128. They are changes to blip-base.py's towers:
# a tiny config inherits a BLIP-base config and this file, and merges them into
# its model's tower slots, e.g.
#   _base_ = ['./blip-base_caption.py', './_base_/models/blip-tiny.py']
#   model = dict(
#       image_encoder=_base_.tiny_image_encoder,
#       head=dict(decoder=dict(config=_base_.tiny_med_config)),
#   )
# (Their names differ from blip-base.py's because mmengine refuses a key defined
# in two bases of one config.)
tiny_image_encoder = dict(
    arch=dict(_delete_=True, embed_dims=64, num_layers=3, num_heads=4, feedforward_channels=128),
    img_size=96,
)

# No dropout: on a schedule of a few hundred steps the tiny towers underfit, and
# dropout slowed learning down (measured on VQA).
tiny_med_config = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=128,
    encoder_width=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
