# BLIP-base visual question answering: the shared towers (the ViT at 480 px;
# 384 px weights have their position embeddings resampled when loaded), the
# text tower as the image-grounded question encoder, and the answer decoder.
_base_ = ['./blip-base.py']

model = dict(
    type='BlipVQA',
    tokenizer=_base_.tokenizer,
    image_encoder=dict(_base_.image_encoder, img_size=480),
    text_encoder=dict(type='TextTransformer', config=_base_.med_config),
    head=dict(
        type='VQAHead',
        decoder=dict(type='TextDecoder', config=_base_.med_config),
        # 'generate': beam search (generation_cfg below). 'rank': score the
        # num_ans_candidates answers of the answer list whose first token is
        # likeliest, and answer with the best (BLIP's VQAv2 evaluation).
        inference_method='generate',
        num_ans_candidates=128,
        # Rank mode's answer list, a local JSON list of strings (read only in
        # rank mode). Dataset configs name the file; with None, the list is
        # built from answer_list_annotations (VQAv2-format training annotation
        # files): answers that are the most common human answer of at least
        # min_answer_count questions.
        answer_list_path=None,
        answer_list_annotations=None,
        min_answer_count=9,
    ),
    # Beam search as BLIP and mmpretrain run it; lengths count [DEC], so at
    # most 9 answer tokens.
    generation_cfg=dict(strategy='beam', num_beams=3, max_length=10, min_length=1),
)
