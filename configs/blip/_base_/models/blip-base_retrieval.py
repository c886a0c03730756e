# BLIP-base image-text retrieval model: the shared towers, linear projections to
# embed_dim-d contrastive features (ITC), the matching head (ITM) that re-ranks
# the best candidates, and momentum copies and feature queues for training.
_base_ = ['./blip-base.py']

model = dict(
    type='BlipRetrieval',
    image_encoder=_base_.image_encoder,
    text_encoder=dict(type='TextTransformer', config=_base_.med_config),
    tokenizer=_base_.tokenizer,
    embed_dim=256,
    itc_head=dict(type='ITCHead', alpha=0.4),
    itm_head=dict(type='ITMHead', with_pooler=False),
    momentum=0.995,
    negative_all_rank=True,
    # Texts are padded to 35 tokens. The ITC similarity ranks everything; the
    # topk best candidates of each query are re-scored by ITM (COCO: 256).
    max_txt_len=35,
    topk=256,
    # Image-text pairs per ITM forward pass while re-ranking (memory vs speed).
    rerank_batch_size=64,
)
