"""An official BLIP_Pretrain checkpoint, converted, trains as the official code does.

Reference: the official code at its pins on the tiny pre-training checkpoint
(see test_official_caption.py): two consecutive ``model(image, caption,
alpha=0.4)`` steps after ``torch.manual_seed(1234)``, with the ITC, ITM and LM
losses, every ``torch.multinomial`` call of the hard negatives, the queues
after each step and sums of momentum parameters after each update. Our
checkpoints of the pre-training model start every task as the official ones do.
"""

import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmpretrain.structures import DataSample

from blip.converters import (
    CONVERSIONS,
    explain_official,
    official_to_blip,
    pretrain_to_official,
    to_blip,
)
from blip.converters.tables import plan
from blip.registry import MODELS
from official_fixtures import (
    TINY_VIT,
    TOKENIZER,
    close,
    images,
    med_config,
    official_state_dict,
    outputs,
    read_json,
)

REPO = Path(__file__).resolve().parents[2]


def tiny_config(**overrides) -> dict:
    """Our BlipPretrain of the official tiny BLIP_Pretrain's sizes (64 px, 32-d features, queue 12)."""
    text = med_config()  # the tiny BERT with the vocabulary resized to 30524, as the official model is
    return dict(
        type='BlipPretrain',
        tokenizer=TOKENIZER,
        image_encoder=dict(copy.deepcopy(TINY_VIT), img_size=64),
        text_encoder=dict(type='TextTransformer', config=text),
        text_decoder=dict(type='TextDecoder', config=text),
        embed_dim=32,
        itc_head=dict(type='ITCHead', queue_size=12, alpha=0.4),
        itm_head=dict(type='ITMHead', with_pooler=False),
        negative_all_rank=False,
        **overrides,
    )


def converted_model(**overrides):
    torch.manual_seed(0)
    model = MODELS.build(tiny_config(**overrides)).eval()
    model.load_state_dict(official_to_blip(official_state_dict('BLIP_Pretrain'), 'pretrain'), strict=True)
    return model


@pytest.fixture(scope='module')
def reference():
    return outputs('pretrain')


def test_every_official_key_is_converted():
    fates = explain_official(official_state_dict('BLIP_Pretrain'), 'pretrain')
    assert all(fate.startswith('-> ') for fate in fates.values()), fates


def test_the_official_checkpoint_loads_as_it_is():
    """``load_state_dict`` converts an official state dict by itself (as load_from does)."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_config())
    model.load_state_dict(official_state_dict('BLIP_Pretrain'), strict=True)
    official = official_state_dict('BLIP_Pretrain')
    assert torch.equal(
        model.image_encoder.layers[0].ln1.weight, official['visual_encoder.blocks.0.norm1.weight']
    )
    assert torch.equal(model.itc_head.image_queue, official['image_queue'])
    assert model.itc_head.idx_queue.eq(-100).all()


def test_the_text_encoder_and_decoder_share_all_but_self_attention():
    model = converted_model()
    encoder, decoder = model.text_encoder, model.text_decoder.bert
    assert decoder.embeddings.word_embeddings is encoder.embeddings.word_embeddings
    assert decoder.embeddings.position_embeddings is encoder.embeddings.position_embeddings
    assert decoder.embeddings.LayerNorm is encoder.embeddings.LayerNorm
    assert model.text_decoder.cls.predictions.decoder.weight is encoder.embeddings.word_embeddings.weight
    for ours, theirs in zip(decoder.layers, encoder.layers):
        for shared in ('crossattention', 'intermediate', 'output'):
            assert getattr(ours, shared) is getattr(theirs, shared)
        assert ours.attention is not theirs.attention
        assert ours.attention.self.query.weight is not theirs.attention.self.query.weight


def test_a_tie_the_checkpoint_breaks_is_an_error():
    official = official_state_dict('BLIP_Pretrain')
    key = 'text_decoder.bert.encoder.layer.1.intermediate.dense.weight'
    official[key] = official[key] + 1
    with pytest.raises(ValueError, match=key.replace('.', r'\.')):
        official_to_blip(official, 'pretrain')


def test_two_training_steps(reference, monkeypatch):
    """Losses, hard negatives (weights and draws), queues, temperature and momentum
    updates of two steps equal the official ones (floats within atol/rtol 1e-5)."""
    record, tensors = reference
    model = converted_model()
    draws = []
    multinomial = torch.multinomial

    def recording(weights, num_samples, *args, **kwargs):
        drawn = multinomial(weights, num_samples, *args, **kwargs)
        draws.append((weights.clone(), drawn.clone()))
        return drawn

    monkeypatch.setattr(torch, 'multinomial', recording)
    torch.manual_seed(1234)
    for step, expected in enumerate(record['cases']['train_forward']['steps']):
        # Every pair its own image id: the official model treats each pair as its own positive.
        samples = [
            DataSample(text=text, image_id=3 * step + i) for i, text in enumerate(expected['captions'])
        ]
        draws.clear()
        with torch.no_grad():
            losses = model.loss(images(64)[expected['image_index']], samples)
        key = f'train/step{step}'
        close(losses['itc_loss'], tensors[f'{key}/loss_ita'])
        close(losses['itm_loss'], tensors[f'{key}/loss_itm'])
        close(losses['lm_loss'], tensors[f'{key}/loss_lm'])
        assert len(draws) == len(expected['multinomial']) == 6
        for (weights, drawn), official in zip(draws, expected['multinomial']):
            close(weights, torch.tensor(official['weights']))
            assert drawn.tolist() == official['drawn']
        close(model.itc_head.image_queue, tensors[f'{key}/image_queue'])
        close(model.itc_head.text_queue, tensors[f'{key}/text_queue'])
        assert model.itc_head.queue_ptr.tolist() == expected['queue_ptr']
        close(model.temp, torch.tensor(expected['temp']))
        state = model.state_dict()
        for name, total in expected['momentum_fsum'].items():
            close(state[OUR_NAMES[name]].double().sum(), torch.tensor(total, dtype=torch.float64))
        ids = model.tokenize_texts(expected['captions']).input_ids
        ids[:, 0] = model.tokenizer.bos_token_id
        assert ids.tolist() == expected['decoder_input_ids']


def test_our_checkpoint_starts_every_task_as_the_official_one():
    """A saved BlipPretrain converts into each task model exactly as the official
    pre-training checkpoint does (the table read backwards, then forwards)."""
    model = converted_model()
    ours = model.state_dict()
    official = official_state_dict('BLIP_Pretrain')
    back = pretrain_to_official(ours)
    assert set(back) == set(official)
    for key, value in back.items():
        assert torch.equal(value, official[key]), key
    for task in ('caption', 'vqa', 'retrieval', 'nlvr', 'feature'):
        torch.manual_seed(0)
        from_ours = to_blip(ours, task)
        torch.manual_seed(0)
        from_official = official_to_blip(official, task)
        assert set(from_ours) == set(from_official), task
        for key, value in from_official.items():
            assert torch.equal(from_ours[key], value), (task, key)


def test_fullsize_official_layout_converts_to_the_base_config(monkeypatch):
    """The official full-size BLIP_Pretrain (ViT-B, 224 px) key manifest converts into
    configs/blip/_base_/models/blip-base_pretrain.py's model key for key, with its parameter counts."""
    # Built on the meta device (no memory); the ViT reads its drop-path rates from a CPU linspace.
    linspace = torch.linspace
    monkeypatch.setattr(torch, 'linspace', lambda *args, **kwargs: linspace(*args, **kwargs, device='cpu'))
    manifest = read_json('fullsize.json.gz')['BLIP_Pretrain_base_224']
    official = {key: torch.empty(shape, device='meta') for key, shape in manifest['keys'].items()}
    cfg = Config.fromfile(str(REPO / 'configs/blip/_base_/models/blip-base_pretrain.py'))
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    conversion = CONVERSIONS['BLIP_Pretrain', 'pretrain']
    mapping = plan(conversion, official)
    assert not mapping.unknown and not mapping.missing
    shapes = {ours: tuple(official[key].shape) for key, targets in mapping.names.items() for ours in targets}
    state = model.state_dict()
    assert set(shapes) | {derived.key for derived in conversion.derived} == set(state)
    assert shapes == {key: tuple(state[key].shape) for key in shapes}
    assert sum(p.numel() for p in model.parameters()) == manifest['num_params'] == 475_892_799
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == manifest['num_params_trainable'] == 252_441_919


def _our_names() -> dict[str, str]:
    """Official BLIP_Pretrain key -> our key, from the conversion's own plan."""
    conversion = CONVERSIONS['BLIP_Pretrain', 'pretrain']
    mapping = plan(conversion, official_state_dict('BLIP_Pretrain'))
    return {key: ours[0] for key, ours in mapping.names.items()}


OUR_NAMES = _our_names()
