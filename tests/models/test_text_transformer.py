"""The text tower and the decoding loop: fast paths equal straightforward ones."""

import pytest
import torch

import blip  # noqa: F401
from blip.models import (
    GenerationConfig,
    TextConfig,
    TextDecoder,
    TextTransformer,
    VisionTransformer,
    generate,
)
from blip.models.attention import ScaledDotProduct
from blip.registry import MODELS
from tiny_models import TINY_MED_CONFIG, TINY_VIT, randomize, tiny_caption_config


@pytest.fixture(scope='module')
def decoder():
    torch.manual_seed(0)
    return randomize(TextDecoder(TINY_MED_CONFIG)).eval()


@pytest.fixture(scope='module')
def image_embeds():
    return torch.randn(3, 17, 32, generator=torch.Generator().manual_seed(1))


class RecomputingDecoder:
    """Straightforward reference: reruns the whole sequence at every step, with
    each row's image embeddings copied per row. No cache, no sharing."""

    def __init__(self, decoder, image_embeds):
        self.decoder, self.image_embeds = decoder, image_embeds
        self.sequences = self.image_of_row = None

    def step(self, new_ids):
        if self.sequences is None:
            rows_per_image = len(new_ids) // len(self.image_embeds)
            self.image_of_row = torch.arange(len(self.image_embeds)).repeat_interleave(rows_per_image)
            self.sequences = new_ids
        else:
            self.sequences = torch.cat([self.sequences, new_ids], 1)
        return self.decoder(self.sequences, image_embeds=self.image_embeds[self.image_of_row])[:, -1]

    def reorder(self, rows, inputs=None):
        # Rows keep their own image; the inputs leaving need no bookkeeping here.
        self.sequences, self.image_of_row = self.sequences[rows], self.image_of_row[rows]


def test_med_config_unknown_key_is_named():
    with pytest.raises(KeyError, match='hiden_size'):
        TextConfig.from_med_config({'hiden_size': 32})


def test_text_only_mode_ignores_cross_attention(decoder):
    ids = torch.tensor([[101, 1037, 3899, 102]])
    encoder = decoder.bert
    text_only = encoder(ids)
    with_images = encoder(ids, image_embeds=torch.randn(1, 17, 32))
    assert not torch.allclose(text_only, with_images)
    no_cross = TextTransformer(dict(TINY_MED_CONFIG, add_cross_attention=False)).eval()
    no_cross.load_state_dict(
        {k: v for k, v in encoder.state_dict().items() if 'crossattention' not in k}, strict=True
    )
    torch.testing.assert_close(no_cross(ids), text_only)


def test_padding_does_not_change_real_tokens(decoder, image_embeds):
    ids = torch.tensor([[101, 1037, 3899, 102, 0, 0], [101, 1037, 3899, 2003, 2770, 102]])
    mask = (ids != 0).long()
    padded = decoder.bert(ids, mask, image_embeds=image_embeds[:2])
    alone = decoder.bert(ids[:1, :4], image_embeds=image_embeds[:1])
    torch.testing.assert_close(padded[:1, :4], alone, rtol=1e-5, atol=1e-6)


def test_causal_decoder_does_not_look_ahead(decoder, image_embeds):
    ids = torch.tensor([[30522, 1037, 3861, 1997, 1037, 3899]])
    full = decoder(ids, image_embeds=image_embeds[:1])
    prefix = decoder(ids[:, :3], image_embeds=image_embeds[:1])
    torch.testing.assert_close(full[:, :3], prefix, rtol=1e-5, atol=1e-5)


def test_grouped_cross_attention_equals_copied_image_embeddings(decoder, image_embeds):
    ids = torch.randint(1000, 2000, (6, 4), generator=torch.Generator().manual_seed(3))
    copied = decoder.bert(ids, image_embeds=image_embeds.repeat_interleave(2, 0), causal=True)
    shared = decoder.bert(ids, image_embeds=image_embeds, causal=True, image_group=2)
    torch.testing.assert_close(shared, copied, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    'cfg',
    [
        dict(strategy='beam', num_beams=3, max_length=12, min_length=6),
        dict(strategy='beam', num_beams=4, max_length=10, num_return_sequences=2, repetition_penalty=1.3),
        dict(strategy='greedy', max_length=12, repetition_penalty=1.2),
    ],
)
def test_cached_decoding_equals_recomputation(decoder, image_embeds, cfg):
    config = GenerationConfig(**cfg)
    prompt = torch.tensor([[30522, 1037, 3861, 1997]]).expand(3, -1)
    with torch.no_grad():
        fast = generate(decoder.incremental(image_embeds), prompt, config, 102, 0)
        slow = generate(RecomputingDecoder(decoder, image_embeds), prompt, config, 102, 0)
    assert torch.equal(fast[0], slow[0])
    if fast[1] is not None:
        torch.testing.assert_close(fast[1], slow[1], rtol=1e-5, atol=1e-5)
    assert fast[0].shape[0] == 3 * config.num_return_sequences
    assert fast[0].shape[1] <= config.max_length
    assert len({tuple(s.tolist()) for s in fast[0]}) > 1  # inputs really differ


def test_min_length_and_eos_padding(decoder, image_embeds):
    # Make [SEP] the likeliest token: min_length must still hold it back.
    with torch.no_grad():
        decoder.cls.predictions.bias[102] += 50.0
        try:
            prompt = torch.tensor([[30522]]).expand(3, -1)
            config = GenerationConfig(strategy='greedy', max_length=8, min_length=4)
            sequences, _ = generate(decoder.incremental(image_embeds), prompt, config, 102, 0)
        finally:
            decoder.cls.predictions.bias[102] -= 50.0
    assert sequences.shape == (3, 5)
    assert (sequences[:, 4] == 102).all() and (sequences[:, 1:4] != 102).all()


def test_nucleus_sampling_is_seeded_and_respects_top_k(decoder, image_embeds):
    config = GenerationConfig(strategy='sample', max_length=10, top_p=0.9, top_k=1, num_return_sequences=2)
    greedy = GenerationConfig(strategy='greedy', max_length=10)
    prompt = torch.tensor([[30522]]).expand(3, -1)
    with torch.no_grad():
        sampled, _ = generate(decoder.incremental(image_embeds), prompt, config, 102, 0)
        best, _ = generate(decoder.incremental(image_embeds), prompt, greedy, 102, 0)
    # top_k=1 leaves only the argmax: sampling equals greedy search.
    assert torch.equal(sampled[::2], best) and torch.equal(sampled[1::2], best)
    wide = GenerationConfig(strategy='sample', max_length=10, top_p=0.99, top_k=0, temperature=2.0)
    runs = []
    for _ in range(2):
        torch.manual_seed(7)
        with torch.no_grad():
            runs.append(generate(decoder.incremental(image_embeds), prompt, wide, 102, 0)[0])
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], best)


def test_generation_config_rejects_bad_values():
    with pytest.raises(ValueError, match='strategy'):
        GenerationConfig(strategy='topk')
    with pytest.raises(ValueError, match='num_return_sequences'):
        GenerationConfig(num_beams=2, num_return_sequences=3)


def test_position_embeddings_are_resampled_for_other_image_sizes():
    torch.manual_seed(0)
    vit64 = VisionTransformer(**{k: v for k, v in TINY_VIT.items() if k != 'type'})
    vit96 = VisionTransformer(**{k: v for k, v in TINY_VIT.items() if k != 'type'} | dict(img_size=96))
    vit96.load_state_dict(vit64.state_dict(), strict=True)  # 17 -> 37 tokens when loading
    assert vit96.pos_embed.shape == (1, 37, 32)
    torch.testing.assert_close(vit96.pos_embed[:, 0], vit64.pos_embed[:, 0])
    images = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        # An input of another size resamples at run time, the same way.
        torch.testing.assert_close(vit64(images)[0], vit96(images)[0], rtol=1e-5, atol=1e-5)


def test_gradient_checkpointing_gives_the_same_gradients():
    torch.manual_seed(0)
    plain = MODELS.build(tiny_caption_config())
    checkpointed = MODELS.build(tiny_caption_config())
    checkpointed.load_state_dict(plain.state_dict())
    checkpointed.image_encoder.with_cp = True
    checkpointed.head.decoder.bert.with_cp = True
    from mmpretrain.structures import DataSample

    images = torch.randn(2, 3, 64, 64)
    samples = [DataSample(gt_caption='a red square'), DataSample(gt_caption='two blue circles')]
    grads = []
    for net in (plain, checkpointed):
        for m in net.modules():
            if isinstance(m, torch.nn.Dropout):
                m.p = 0.0
            if isinstance(m, ScaledDotProduct):
                m.dropout = 0.0
        net.train()
        net.loss(images, samples)['seq_gen_lm_loss'].backward()
        grads.append({n: p.grad for n, p in net.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 50
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-4, atol=1e-6)


def test_sincos_position_embeddings_for_training_from_scratch():
    args = {k: v for k, v in TINY_VIT.items() if k != 'type'} | dict(img_size=96)
    torch.manual_seed(0)
    default = VisionTransformer(**args)
    torch.manual_seed(0)
    sincos = VisionTransformer(**args, pos_embed_init='sincos', pos_embed_temperature=100)
    assert sincos.state_dict().keys() == default.state_dict().keys()
    assert default.pos_embed.std() < 0.03  # N(0, 0.02) unless asked otherwise
    grid = sincos.pos_embed.detach()[0]
    assert grid.shape == (37, 32) and torch.equal(grid[0], torch.zeros(32))  # [CLS], then a 6 x 6 grid
    cells = grid[1:].view(6, 6, 32)
    rows, cols = cells[..., :16], cells[..., 16:]
    assert torch.equal(rows, rows[:, :1].expand(-1, 6, -1)) and torch.equal(cols, cols[:1].expand(6, -1, -1))
    # Row r: sin(r * w_k) and cos(r * w_k) with w_k = 1 / 100 ** (k / 8).
    omega = 1 / 100 ** (torch.arange(8) / 8)
    torch.testing.assert_close(rows[2, 0], torch.cat([(2 * omega).sin(), (2 * omega).cos()]))
    with pytest.raises(ValueError, match="pos_embed_init must be 'trunc_normal' or 'sincos'"):
        VisionTransformer(**args, pos_embed_init='sine')
