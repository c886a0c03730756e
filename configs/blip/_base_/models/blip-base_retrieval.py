# BLIP-base image-text retrieval model: the shared towers, linear projections to
# 256-d contrastive features (ITC), the matching head (ITM) that re-ranks the
# best candidates, and momentum copies and feature queues for training.
_base_ = ['./blip-base.py']

model = dict(
    type='BlipRetrieval',
    vision_backbone=_base_.vision_encoder,
    text_backbone=dict(type='XBertEncoder', med_config=_base_.med_config),
    tokenizer=_base_.tokenizer,
    vision_neck=dict(type='Linear', in_features=768, out_features=256),
    text_neck=dict(type='Linear', in_features=768, out_features=256),
    head=dict(type='ITCHead', embed_dim=256, queue_size=57600, alpha=0.4),
    multimodal_head=dict(type='ITMHead', hidden_size=768, with_pooler=False),
    momentum=0.995,
    negative_all_rank=True,
    # Texts are padded to 35 tokens. The ITC similarity ranks everything; the
    # topk best candidates of each query are re-scored by ITM (COCO: 256).
    max_txt_len=35,
    topk=256,
    # Image-text pairs per ITM forward pass while re-ranking (memory vs speed).
    rerank_batch_size=64,
)
