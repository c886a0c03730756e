# The two BLIP-base towers, defined once. Task configs compose them:
#   image_encoder=_base_.image_encoder, config=_base_.med_config, ...
image_encoder = dict(type='VisionTransformer', arch='b', img_size=384, patch_size=16)

# BERT-base text transformer with cross-attention to the 768-d image tokens.
med_config = dict(
    vocab_size=30524,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
    layer_norm_eps=1e-12,
    hidden_act='gelu',
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
    pad_token_id=0,
    add_type_embeddings=False,
    add_cross_attention=True,
    encoder_width=768,
)

tokenizer = dict(type='BlipTokenizer', name_or_path='bert-base-uncased')
