"""Official checkpoints loaded into another model, as the official demo and
fine-tuning scripts load them: a pre-training checkpoint into every task
model (position embeddings resampled from 64 to 96/128 px, here as from 224
to 384/480 px at full size), a retrieval checkpoint into the image-text
matcher. Our conversion must give what the official loaders give.

Reference: the official code at its pins (see test_official_caption.py),
cases ``load_demos``, ``feature_extractor`` and ``itm``.
"""

import pytest
import torch

from blip.converters import CONVERSIONS, explain_official, official_to_blip
from blip.converters.tables import plan
from blip.models import GenerationConfig
from official_fixtures import (
    build,
    close,
    images,
    inputs,
    med_config,
    official_state_dict,
    outputs,
    sha256,
    tensor,
)


def from_pretraining(task, **overrides):
    net = build(task, **overrides)
    net.load_state_dict(official_to_blip(official_state_dict('BLIP_Pretrain'), task), strict=True)
    return net


@pytest.fixture(scope='module')
def demos():
    return outputs('load_demos')


def test_position_embeddings_resampled_bicubically():
    record, tensors = outputs('feature_extractor')
    model = from_pretraining('feature')
    source = official_state_dict('BLIP_Pretrain')['visual_encoder.pos_embed']
    close(source, tensors['pos_embed_interpolated/source_pos_embed'], atol=0, rtol=0)
    close(model.image_encoder.pos_embed, tensors['pos_embed_interpolated/pos_embed'])
    # The converter resamples as the model's loading does: 4 x 4 -> 6 x 6 patches.
    converted = official_to_blip(official_state_dict('BLIP_Pretrain'), 'feature', image_size=96)
    assert torch.equal(converted['image_encoder.pos_embed'], model.image_encoder.pos_embed)
    recorded = record['cases']['pos_embed_interpolated']['pos_embed']['sha256']
    assert sha256(converted['image_encoder.pos_embed']) == recorded


@pytest.mark.parametrize('image', [0, 1, 2])
def test_feature_extractor_from_pretraining(image):
    record, tensors = outputs('feature_extractor')
    model = from_pretraining('feature')
    caption = inputs()['captions'][image]
    with torch.no_grad():
        features = model.extract_feat(images(96)[image : image + 1], texts=[caption])
    for mode in ('image', 'text', 'multimodal'):
        close(features[f'{mode}_embeds'], tensors[f'image{image}_{mode}/last_hidden_state'])
    assert record['cases'][f'image{image}_text']['caption'] == caption


def test_captions_from_pretraining(demos):
    # demo.ipynb captions with a pre-training checkpoint (model_base_capfilt_large.pth).
    model = from_pretraining('caption')
    case = demos[0]['cases']['decoder_from_pretrain']
    close(model.image_encoder.pos_embed, demos[1]['decoder_from_pretrain/pos_embed'])
    model.generation_cfg = GenerationConfig(num_beams=3, max_length=20, min_length=5, beam_length='total')
    with torch.no_grad():
        ids, _ = model.generate(images(96))
        captions = [sample.pred_caption for sample in model.predict(images(96))]
    assert torch.equal(ids, demos[1]['decoder_from_pretrain/output_ids'])
    assert captions == case['captions']


def test_answers_from_pretraining(demos):
    model = from_pretraining('vqa')  # 4 x 4 -> 8 x 8 patches
    case = demos[0]['cases']['vqa_from_pretrain']
    with torch.no_grad():
        states, _ = model.encode_questions(images(128), inputs()['questions'])
        # The official generation attends to the question padding (see test_official_vqa.py).
        ids = model.head.generate(states, None, model.generation_cfg, 30522, 102, 0)
    assert torch.equal(ids, demos[1]['vqa_from_pretrain/output_ids'])
    assert model.tokenizer.batch_decode(ids, skip_special_tokens=True) == case['answers']


def test_retrieval_from_pretraining(demos):
    model = from_pretraining('retrieval')
    case = demos[0]['cases']['retrieval_from_pretrain_eval_k3']
    model.topk = 3
    with torch.no_grad():
        feats = model.extract_feat(images(96), texts=case['texts'])
        similarity = feats['image_feat'] @ feats['text_feat'].t()
        scores = model.scores(similarity, feats['text_ids'], model.pair_logits(feats))
    close(similarity, demos[1]['retrieval_from_pretrain_eval_k3/itc_sims_matrix'])
    close(scores['i2t'], demos[1]['retrieval_from_pretrain_eval_k3/score_matrix_i2t'])
    close(scores['t2i'], demos[1]['retrieval_from_pretrain_eval_k3/score_matrix_t2i'])
    # Fine-tuning starts with the pre-trained queues, no image ids yet and the pointer at 0.
    pretrained = official_state_dict('BLIP_Pretrain')
    assert torch.equal(model.itc_head.image_queue, pretrained['image_queue'])
    assert torch.equal(model.itc_head.text_queue, pretrained['text_queue'])
    assert model.itc_head.idx_queue.eq(-100).all() and int(model.itc_head.queue_ptr) == 0
    assert torch.equal(model.image_encoder_m.cls_token, pretrained['visual_encoder_m.cls_token'])


@pytest.mark.parametrize('case, task', [('decoder_from_pretrain', 'caption'), ('vqa_from_pretrain', 'vqa')])
def test_what_is_loaded_and_dropped_equals_the_official_loaders(demos, case, task):
    load = demos[0]['cases'][case]['load']
    fates = explain_official(official_state_dict('BLIP_Pretrain'), task)
    dropped = sorted(key for key, fate in fates.items() if fate.startswith('dropped'))
    assert dropped == sorted(load['unexpected_keys'])
    assert not load['missing_keys'] and not load['dropped_for_shape_mismatch']


def test_retrieval_from_pretraining_loads_what_the_official_loader_loads(demos):
    load = demos[0]['cases']['retrieval_from_pretrain']['load']
    fates = explain_official(official_state_dict('BLIP_Pretrain'), 'retrieval')
    # queue_ptr is not loaded there (the retrieval model names its pointer ptr_queue)
    assert sorted(k for k, f in fates.items() if f.startswith('dropped')) == sorted(load['unexpected_keys'])
    assert sorted(load['missing_keys']) == ['idx_queue', 'ptr_queue']  # ours: derived (-100, 0)


def test_nlvr_from_pretraining_doubles_the_cross_attention(demos):
    load = demos[0]['cases']['nlvr_from_pretrain']['load']
    pretrained = official_state_dict('BLIP_Pretrain')
    converted = official_to_blip(pretrained, 'nlvr')
    model = build('nlvr', text_encoder=dict(config=med_config()))  # 2 layers: no merge layer
    model.load_state_dict(converted, strict=True)
    # The official loader copies each cross-attention tensor to both branches;
    # the fixture names the checkpoint keys with the same bytes.
    for key, target in load['target_keys']['other_keys'].items():
        if target['from'] is None:
            continue  # resampled position embeddings
        ours = converted[key.replace('text_encoder.', 'multimodal_backbone.')]
        assert any(torch.equal(ours, pretrained[source]) for source in target['from']), key
    # New, as the official loader leaves it missing (random): the classifier.
    fresh = plan(CONVERSIONS['BLIP_Pretrain', 'nlvr'], pretrained).fresh
    assert sorted(key.replace('head.', 'cls_head.', 1) for key, _ in fresh) == sorted(load['missing_keys'])


def test_itm_of_a_retrieval_checkpoint():
    # BLIP_ITM (demo.ipynb, predict.py) from a retrieval checkpoint: ours is
    # the retrieval model without its training state.
    record, tensors = outputs('itm')
    model = build('retrieval', inference_only=True)
    model.load_state_dict(official_to_blip(official_state_dict('BLIP_Retrieval'), 'retrieval'), strict=True)
    assert sum(p.numel() for p in model.parameters()) < sum(
        p.numel() for p in build('retrieval').parameters()
    )
    pairs = record['cases']['itm_all_pairs']
    with torch.no_grad():
        feats = model.extract_feat(images(96), texts=pairs['captions'])
        close(feats['image_feat'] @ feats['text_feat'].t(), tensors['itc/sim'])
        # Quirk of BLIP_ITM's 'itm' head: [CLS] stays the first token (retrieval uses [ENC]).
        ids, mask = feats['text_ids'][pairs['caption_index']], feats['text_attn_mask'][pairs['caption_index']]
        assert torch.equal(ids, tensor(pairs['input_ids']))
        states = model.encode_multimodal(ids, mask, feats['image_embeds'][pairs['image_index']])
        logits = model.itm_head(states[:, 0])
    close(logits, tensors['itm_all_pairs/itm_logits'])
    close(logits.softmax(dim=1)[:, 1], tensors['itm_all_pairs/itm_score'])
