"""``blip.models.cpu_inference.optimize``: the inference-only oneDNN modules give what the
plain towers give, the plain towers stay stock PyTorch, and without the private ops the
plain path is taken.

The references are the same model before optimizing (plain ``nn.Linear`` on
PyTorch's BLAS, ``F.scaled_dot_product_attention``) and the plain functions.
"""

import copy
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import nn

import blip  # noqa: F401
from blip.models import cpu_inference
from blip.models.attention import ScaledDotProduct
from blip.models.cpu_inference import MANY_KEYS, CpuAttention, PackedLinear, optimize
from blip.models.vision_transformer import VisionTransformer
from blip.registry import MODELS
from tiny_models import randomize, tiny_caption_config, tiny_vqa_config

needs_onednn = pytest.mark.skipif(
    not cpu_inference.onednn_available(), reason='this PyTorch build has no working oneDNN linear ops'
)


def tiny_model(build=tiny_caption_config, seed=0):
    torch.manual_seed(seed)
    return randomize(MODELS.build(build()), seed=seed).eval()


def modules_of(model, kind):
    return [m for m in model.modules() if type(m) is kind]


def captions(model, images):
    with torch.no_grad():
        return [s.pred_caption for s in model(images, mode='predict')]


def test_towers_are_plain_pytorch():
    """Every product of the towers is a stock ``nn.Linear``, every attention the fused kernel."""
    model = tiny_model()
    kinds = {type(m) for m in model.modules()}
    assert nn.Linear in kinds and ScaledDotProduct in kinds
    assert not kinds & {PackedLinear, CpuAttention}
    # Stock semantics: deep copies, moves and trains with the same parameters.
    duplicate = copy.deepcopy(model)
    assert duplicate.state_dict().keys() == model.state_dict().keys()
    duplicate.train().to(torch.float64)
    assert all(p.dtype == torch.float64 for p in duplicate.parameters())


@needs_onednn
@pytest.mark.parametrize('activation', [nn.GELU(), nn.GELU(approximate='tanh'), nn.ReLU(), None])
def test_packed_linear_equals_linear_then_activation(activation):
    torch.manual_seed(0)
    layer = nn.Linear(48, 40)
    x = torch.randn(2, 5, 48)
    expected = layer(x) if activation is None else activation(layer(x))
    packed = PackedLinear(layer, activation)
    with torch.no_grad():
        torch.testing.assert_close(packed(x), expected.detach(), rtol=1e-5, atol=1e-6)
        # Rows with gaps between them (a slice) give the same.
        torch.testing.assert_close(packed(x[:, -1]), expected[:, -1].detach(), rtol=1e-5, atol=1e-6)
        with torch.autocast('cpu', dtype=torch.bfloat16):  # the plain product from the unpacked weight
            assert packed(x).dtype == torch.bfloat16
    assert packed.state_dict().keys() == layer.state_dict().keys()
    assert torch.equal(packed.state_dict()['weight'], layer.weight)


@needs_onednn
def test_optimize_swaps_every_linear_and_attention_and_fuses_activations():
    model = optimize(tiny_model(), pack_image_tower=True)
    assert not modules_of(model, nn.Linear) and not modules_of(model, ScaledDotProduct)
    fused = [m for m in modules_of(model, PackedLinear) if m.activation is not None]
    # ViT FFN (2 layers), BERT intermediate (2 layers), LM transform: each GELU fused.
    assert len(fused) == 5
    sequential_children = [c for m in model.modules() if isinstance(m, nn.Sequential) for c in m.children()]
    assert nn.GELU not in {type(c) for c in sequential_children}
    # The LM head's weight is the word embeddings' (tied): it gets its own packed copy,
    # and the embedding keeps the plain tensor; the bias stays tied.
    predictions = model.head.decoder.cls.predictions
    assert predictions.decoder.bias is predictions.bias
    embeddings = model.head.decoder.bert.embeddings.word_embeddings.weight
    assert torch.equal(predictions.decoder.packed_weight.to_dense(), embeddings)


@needs_onednn
def test_optimized_captions_equal_plain_captions():
    model = tiny_model()
    images = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    plain = captions(model, images)
    with torch.no_grad():
        plain_sequences, plain_scores = model.generate(images)
    optimize(model)
    assert captions(model, images) == plain
    with torch.no_grad():
        sequences, scores = model.generate(images)
    assert torch.equal(sequences, plain_sequences)
    torch.testing.assert_close(scores, plain_scores, rtol=1e-5, atol=1e-5)
    assert len(set(plain)) > 1


@needs_onednn
def test_optimized_vqa_answers_equal_plain_answers():
    model = tiny_model(tiny_vqa_config)
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    questions = ['what is it', 'how many shapes are there', 'is it red']

    def answers():
        with torch.no_grad():
            return [s.pred_answer for s in model.predict(images, [DataSample(question=q) for q in questions])]

    plain = answers()
    optimize(model)
    assert answers() == plain


@needs_onednn
def test_state_dict_of_an_optimized_model_is_the_plain_one():
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    after = optimize(model).state_dict()
    assert list(after) == list(before)
    assert not any(v.is_mkldnn for v in after.values())
    assert all(torch.equal(after[k], v) for k, v in before.items())


@needs_onednn
@pytest.mark.parametrize(
    'action, message',
    [
        (lambda m: m.train(), r'train\(\)'),
        (lambda m: m.to(torch.float64), 'moving or casting'),
        (lambda m: m.load_state_dict(m.state_dict()), 'load_state_dict'),
    ],
)
def test_an_optimized_model_refuses_training_moving_and_loading(action, message):
    model = optimize(tiny_model())
    with pytest.raises(RuntimeError, match=f'{message}: this model was optimized for CPU inference'):
        action(model)


def test_without_the_private_ops_the_plain_modules_stay(monkeypatch):
    """A PyTorch build without oneDNN's linear ops (or where they misbehave) keeps the plain path."""
    cpu_inference.onednn_available.cache_clear()
    try:
        monkeypatch.setattr(torch.ops, 'mkldnn', object())
        assert not cpu_inference.onednn_available()
        model = tiny_model()
        images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
        plain = captions(model, images)
        optimize(model)
        assert not modules_of(model, PackedLinear) and not modules_of(model, CpuAttention)
        assert captions(model, images) == plain
    finally:
        cpu_inference.onednn_available.cache_clear()


@needs_onednn
@pytest.mark.parametrize('per_head', [True, False])
@pytest.mark.parametrize('threads', [1, 2])
def test_cpu_attention_equals_the_fused_kernel(per_head, threads):
    generator = torch.Generator().manual_seed(4)
    # The ViT's layout: heads of one (B, L, 3, H, d) projection, not contiguous.
    qkv = torch.randn(2, MANY_KEYS + 5, 3, 3, 16, generator=generator).permute(2, 0, 3, 1, 4)
    query, key, value = qkv[0], qkv[1], qkv[2]
    few_queries = torch.randn(2, 3, 4, 16, generator=generator)  # decoder cross-attention
    mask = torch.ones(2, 1, 1, MANY_KEYS + 5, dtype=torch.bool)
    mask[1, ..., 50:] = False
    attention = CpuAttention(per_head)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    original = cpu_inference._per_head_products
    try:
        with torch.no_grad(), mock.patch.object(cpu_inference, '_per_head_products', wraps=original) as spy:
            for q, m in ((query, None), (few_queries, None), (few_queries, mask), (query, mask)):
                fused = F.scaled_dot_product_attention(q, key, value, attn_mask=m)
                torch.testing.assert_close(attention(q, key, value, m), fused, rtol=1e-5, atol=1e-6)
            with torch.autocast('cpu', dtype=torch.bfloat16):
                low = attention(query.bfloat16(), key.bfloat16(), value.bfloat16())
    finally:
        torch.set_num_threads(threads_before)
    # The per-head oneDNN products run for the ViT layout without a mask only.
    assert spy.call_count == (1 if per_head else 0)
    torch.testing.assert_close(
        low.float(), F.scaled_dot_product_attention(query, key, value), atol=0.05, rtol=0
    )


@needs_onednn
def test_the_attention_choice_is_made_once_when_optimizing(monkeypatch):
    monkeypatch.setattr(torch, 'get_num_threads', lambda: cpu_inference.PER_HEAD_MAX_THREADS + 1)
    model = optimize(tiny_model())
    assert {m.per_head for m in modules_of(model, CpuAttention)} == {False}
    model = optimize(tiny_model(), per_head_attention=True)
    assert {m.per_head for m in modules_of(model, CpuAttention)} == {True}


@needs_onednn
def test_captions_do_not_depend_on_the_thread_count():
    """Plain and optimized, one thread or two: the same captions (the paths are chosen
    when optimizing, never from the environment while running)."""
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    plain, optimized = tiny_model(), optimize(tiny_model())
    threads_before = torch.get_num_threads()
    results = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results += [captions(plain, images), captions(optimized, images)]
    finally:
        torch.set_num_threads(threads_before)
    assert all(result == results[0] for result in results)


@needs_onednn
@pytest.mark.parametrize('faster', [True, False])
def test_the_image_tower_is_packed_where_the_measurement_says_it_pays_off(monkeypatch, faster):
    """By default the ViT's layers are packed only where packed products measure faster here
    (on a Zen 3 EPYC PyTorch's MKL is faster for its hundreds of rows); the text towers'
    layers are packed either way, and the captions are the plain model's."""
    asked = []

    def measured(rows, in_features, out_features, threads):
        asked.append((rows, in_features, out_features, threads))
        return faster

    monkeypatch.setattr(cpu_inference, 'packing_pays_off', measured)
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(7))
    model = tiny_model()
    plain = captions(model, images)
    vit = model.image_encoder
    largest = max(modules_of(vit, nn.Linear), key=lambda m: m.weight.numel())
    optimize(model)
    # Asked once, for the tower's largest product at one image's tokens (class token included).
    tokens = (64 // 16) ** 2 + 1
    assert asked == [(tokens, largest.in_features, largest.out_features, torch.get_num_threads())]
    assert isinstance(vit, VisionTransformer)
    assert bool(modules_of(vit, PackedLinear)) is faster and bool(modules_of(vit, nn.Linear)) is not faster
    assert modules_of(model.head, PackedLinear) and not modules_of(model.head, nn.Linear)
    assert captions(model, images) == plain
    # An explicit choice is not measured.
    asked.clear()
    optimize(tiny_model(), pack_image_tower=not faster)
    assert asked == []


@needs_onednn
def test_packing_pays_off_is_measured_once_per_shape(monkeypatch):
    cpu_inference.packing_pays_off.cache_clear()
    calls = []
    monkeypatch.setattr(F, 'linear', lambda *args: calls.append(args) or torch.zeros(()))
    first = cpu_inference.packing_pays_off(40, 16, 24, 1, pairs=3)
    assert len(calls) == 1 + 3 and calls[0][0].shape == (40, 16) and calls[0][1].shape == (24, 16)
    assert cpu_inference.packing_pays_off(40, 16, 24, 1, pairs=3) is first and len(calls) == 4
    cpu_inference.packing_pays_off.cache_clear()
