"""Weights packed for oneDNN (``pack_for_cpu_inference``) and fused activations
give what the plain layers give, and the packed form never leaks out of inference.

The reference is the same model unpacked (oneDNN on plain weights, and BLAS
with oneDNN disabled); checkpoints, training and moving the model see plain
tensors.
"""

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

import blip
from blip.models import pack_for_cpu_inference
from blip.models.linear import ACTIVATIONS, Linear, onednn_linear_available
from blip.registry import MODELS
from tiny_models import randomize, tiny_caption_config, tiny_vqa_config

pytestmark = [
    pytest.mark.skipif(not onednn_linear_available(), reason='this PyTorch build has no oneDNN linear op'),
    # torch.backends.mkldnn.flags() warns about Intel GPUs whenever it is used.
    pytest.mark.filterwarnings('ignore:TF32 acceleration on top of oneDNN'),
]


def tiny_model(build=tiny_caption_config, seed=0):
    torch.manual_seed(seed)
    return randomize(MODELS.build(build()), seed=seed).eval()


def linears(model):
    return [m for m in model.modules() if isinstance(m, Linear)]


@pytest.mark.parametrize('activation', sorted(ACTIVATIONS))
def test_fused_activation_equals_linear_then_activation(activation):
    torch.manual_seed(0)
    layer = Linear(48, 40, activation=activation)
    x = torch.randn(2, 5, 48)
    expected = ACTIVATIONS[activation][1](F.linear(x, layer.weight, layer.bias))
    with torch.no_grad():
        fused = layer(x)
        with torch.backends.mkldnn.flags(enabled=False):
            plain = layer(x)
    torch.testing.assert_close(fused, expected.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(plain, expected.detach(), rtol=1e-5, atol=1e-6)
    assert layer(x).grad_fn is not None  # training takes the autograd path


def test_unknown_activation_is_named():
    with pytest.raises(ValueError, match="'swish'"):
        Linear(4, 4, activation='swish')


def test_packed_captions_equal_plain_captions():
    model = tiny_model()
    images = torch.randn(4, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        plain, plain_scores = model.generate(images)
        pack_for_cpu_inference(model)
        assert all(layer.packed for layer in linears(model))
        packed, packed_scores = model.generate(images)
    assert torch.equal(packed, plain)
    torch.testing.assert_close(packed_scores, plain_scores, rtol=1e-5, atol=1e-5)
    assert len({tuple(row) for row in packed.tolist()}) > 1


def test_packed_vqa_answers_equal_plain_answers():
    model = tiny_model(tiny_vqa_config)
    images = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    questions = ['what is it', 'how many shapes are there', 'is it red']

    def answers():
        with torch.no_grad():
            return [s.pred_answer for s in model.predict(images, [DataSample(question=q) for q in questions])]

    plain = answers()
    pack_for_cpu_inference(model)
    assert answers() == plain


def test_state_dict_of_a_packed_model_is_plain_and_unchanged():
    model = tiny_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pack_for_cpu_inference(model)
    after = model.state_dict()
    assert list(after) == list(before)
    assert not any(v.is_mkldnn for v in after.values())
    assert all(torch.equal(after[k], v) for k, v in before.items())


def test_checkpoint_loads_into_a_packed_model():
    source, target = tiny_model(seed=1), pack_for_cpu_inference(tiny_model(seed=2))
    target.load_state_dict(source.state_dict(), strict=True)
    assert all(layer.packed for layer in linears(target))
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(target.generate(images)[0], source.generate(images)[0])


def test_training_and_moving_unpack_the_same_parameters():
    model = tiny_model()
    decoder = model.seq_gen_head.decoder
    params = dict(model.named_parameters())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pack_for_cpu_inference(model)
    # The LM head's weight is the word embeddings' (tied): it gets its own
    # packed copy, and the embedding keeps the plain tensor.
    assert decoder.cls.predictions.decoder.packed
    embeddings = decoder.bert.embeddings.word_embeddings
    assert embeddings.weight is params['seq_gen_head.decoder.bert.embeddings.word_embeddings.weight']

    model.train()
    assert not any(layer.packed for layer in linears(model))
    assert decoder.cls.predictions.decoder.weight is embeddings.weight
    assert dict(model.named_parameters()).keys() == params.keys()
    assert all(p is params[name] and p.requires_grad for name, p in model.named_parameters())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    # The optimizer built before packing trains the model.
    images = torch.randn(2, 3, 64, 64)
    samples = [DataSample(gt_caption='a red circle'), DataSample(gt_caption='two blue squares')]
    sum(model.loss(images, samples).values()).backward()
    optimizer.step()
    key = 'visual_encoder.layers.0.ffn.layers.1.weight'
    assert not torch.equal(model.state_dict()[key], before[key])

    pack_for_cpu_inference(model.eval())
    model.to(torch.float64)
    assert not any(layer.packed for layer in linears(model))
    assert all(p.dtype == torch.float64 for p in model.parameters())


def test_a_packed_model_under_autocast_or_autograd_computes_the_same():
    torch.manual_seed(0)
    layer = Linear(32, 24, activation='gelu')
    x = torch.randn(3, 32)
    expected = F.gelu(F.linear(x, layer.weight, layer.bias)).detach()
    pack_for_cpu_inference(layer.eval())
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)  # autograd on: plain path
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        low = layer(x)
    assert low.dtype == torch.bfloat16
    torch.testing.assert_close(low.float(), expected, rtol=0, atol=0.05)


def test_inferencer_packs_cpu_models():
    from blip.apis import build_inferencer

    model = blip.get_model(str(Path(__file__).resolve().parents[1] / 'data/configs/tiny_caption.py'))
    assert not any(layer.packed for layer in linears(model))
    inferencer = build_inferencer(model)
    assert all(layer.packed for layer in linears(inferencer.model))


def test_a_weakly_referenced_weight_is_packed_as_a_copy():
    import weakref

    torch.manual_seed(0)
    layer = Linear(16, 8).eval()
    weight = layer.weight
    ref = weakref.ref(weight)
    x = torch.randn(3, 16)
    with torch.no_grad():
        expected = layer(x)
        pack_for_cpu_inference(layer)
        assert layer.packed and torch.equal(layer(x), expected)
    assert ref() is weight and not weight.is_mkldnn
    layer.train()
    assert layer.weight is weight


def test_a_packed_model_deep_copies():
    import copy

    model = pack_for_cpu_inference(tiny_model())
    duplicate = copy.deepcopy(model)
    assert all(layer.packed for layer in linears(model)) and all(layer.packed for layer in linears(duplicate))
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert torch.equal(duplicate.generate(images)[0], model.generate(images)[0])
    duplicate.train()
    decoder = duplicate.seq_gen_head.decoder
    assert decoder.cls.predictions.decoder.weight is decoder.bert.embeddings.word_embeddings.weight
    assert (
        decoder.cls.predictions.decoder.weight
        is not model.seq_gen_head.decoder.bert.embeddings.word_embeddings.weight
    )


def test_lower_precision_unpacks_and_the_inferencer_packs_float32_only():
    from blip.apis import build_inferencer

    model = pack_for_cpu_inference(tiny_model())
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(6))
    model.precision = 'bfloat16'
    assert not any(layer.packed for layer in linears(model))
    with torch.no_grad():
        model.generate(images)  # autocast computes from the plain weights
    with pytest.raises(ValueError, match='precision must be one of'):
        model.precision = 'int8'

    config = str(Path(__file__).resolve().parents[1] / 'data/configs/tiny_caption.py')
    low = blip.get_model(config, precision='bfloat16')
    assert not any(layer.packed for layer in linears(build_inferencer(low).model))
