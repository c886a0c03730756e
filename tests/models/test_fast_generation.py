"""The fast paths of caption and VQA generation give what the straightforward paths give.

* Beam search feeds the prompt once per input (its beams share it) and lets an
  input whose search is done leave the batch. The reference here is the plain
  transformers-4.38 loop: every row recomputed from scratch at every step, the
  prompt fed once per beam, every input kept to the end.
* ``precision``: autocast to bfloat16 while generating, float32 untouched.
"""

import importlib
import re
from functools import partial
from pathlib import Path
from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

import blip  # noqa: F401
import hf_blip_models as hf_parity
from blip.apis import get_model
from blip.converters import hf_blip_to_blip
from blip.models import BlipCaption, GenerationConfig, TextDecoder, generate
from blip.models.generation import _Hypotheses, _pad_finished, _penalise
from blip.registry import MODELS
from tiny_models import TINY_MED_CONFIG, randomize, tiny_caption_config, tiny_vqa_config

EOS, PAD = 102, 0
PROMPT = torch.tensor([[30522, 1037, 3861, 1997]])


@pytest.fixture(scope='module')
def decoder():
    torch.manual_seed(0)
    decoder = randomize(TextDecoder(TINY_MED_CONFIG)).eval()
    with torch.no_grad():
        # Beams end at lengths that differ between inputs.
        decoder.cls.predictions.bias[EOS] += 2.0
    return decoder


@pytest.fixture(scope='module')
def image_embeds():
    return torch.randn(5, 17, 32, generator=torch.Generator().manual_seed(1))


def straightforward_beam_search(decoder, image_embeds, image_mask, prompt, config):
    """transformers 4.38's beam search, plainly: no cache, no sharing, no early leaving."""
    beams = config.num_beams
    batch, prompt_len = prompt.shape
    sequences = prompt.repeat_interleave(beams, dim=0)
    embeds = image_embeds.repeat_interleave(beams, dim=0)
    mask = None if image_mask is None else image_mask.repeat_interleave(beams, dim=0)
    beam_scores = torch.tensor([0.0] + [-1e9] * (beams - 1)).repeat(batch)
    hypotheses = [_Hypotheses(beams, config.length_penalty) for _ in range(batch)]
    done = [False] * batch
    while True:
        logits = decoder(sequences, image_embeds=embeds, image_mask=mask)[:, -1]
        log_probs = _penalise(F.log_softmax(logits, dim=-1), sequences, config, EOS) + beam_scores[:, None]
        vocab = log_probs.shape[-1]
        top_scores, top_ids = log_probs.view(batch, -1).topk(2 * beams, dim=1)
        generated_len = sequences.shape[1] + 1 - prompt_len
        next_scores, next_tokens, next_rows = [], [], []
        for b in range(batch):
            kept = []
            for rank in range(2 * beams):
                if done[b] or len(kept) == beams:
                    break
                score = top_scores[b, rank].item()
                beam, token = divmod(top_ids[b, rank].item(), vocab)
                if token == EOS:
                    if rank < beams:
                        hypotheses[b].add(sequences[b * beams + beam].clone(), score, generated_len)
                else:
                    kept.append((score, token, b * beams + beam))
            if not done[b]:
                best = top_scores[b, 0].item() if config.beam_stop == 'best_candidate' else kept[0][0]
                done[b] = hypotheses[b].is_done(best, generated_len)
            kept += [(0.0, PAD, b * beams)] * (beams - len(kept))  # a done input: placeholder rows
            next_scores += [k[0] for k in kept]
            next_tokens += [k[1] for k in kept]
            next_rows += [k[2] for k in kept]
        sequences = torch.cat([sequences[next_rows], torch.tensor(next_tokens)[:, None]], dim=1)
        beam_scores = torch.tensor(next_scores)
        if all(done) or sequences.shape[1] >= config.max_length:
            break
    for b in range(batch):
        if not done[b]:
            for row in range(b * beams, (b + 1) * beams):
                hypotheses[b].add(sequences[row], beam_scores[row].item(), sequences.shape[1] - prompt_len)
    best = [hyp for h in hypotheses for hyp in h.best(config.num_return_sequences)]
    return _pad_finished([s for _, s in best], config.max_length, EOS, PAD), torch.tensor(
        [s for s, _ in best]
    )


class Spy:
    """Records the rows fed at each step and the inputs kept at each reorder."""

    def __init__(self, incremental):
        self.incremental, self.rows, self.kept = incremental, [], []

    def step(self, new_ids):
        self.rows.append(new_ids.shape[0])
        return self.incremental.step(new_ids)

    def reorder(self, rows, inputs=None):
        self.kept.append(None if inputs is None else inputs.tolist())
        self.incremental.reorder(rows, inputs)


@pytest.mark.parametrize(
    'cfg, masked',
    [
        (dict(num_beams=3, max_length=14, min_length=5), False),
        (
            dict(num_beams=4, max_length=12, min_length=5, num_return_sequences=2, repetition_penalty=1.3),
            False,
        ),
        (dict(num_beams=3, max_length=10, min_length=1), True),  # VQA: padded question states
        (dict(num_beams=3, max_length=14, min_length=5, beam_stop='best_running'), False),
    ],
)
def test_beam_search_equals_straightforward_loop(decoder, image_embeds, cfg, masked):
    config = GenerationConfig(strategy='beam', **cfg)
    mask = None
    if masked:
        mask = torch.ones(5, 17, dtype=torch.long)
        mask[1, 9:] = mask[3, 4:] = 0
    prompt = PROMPT.expand(len(image_embeds), -1)
    with torch.no_grad():
        spy = Spy(decoder.incremental(image_embeds, mask, max_length=config.max_length))
        fast, fast_scores = generate(spy, prompt, config, EOS, PAD)
        slow, slow_scores = straightforward_beam_search(decoder, image_embeds, mask, prompt, config)
    assert torch.equal(fast, slow)
    torch.testing.assert_close(fast_scores, slow_scores, rtol=1e-5, atol=1e-5)
    # The prompt was fed once per input, then one row per beam of the inputs left.
    assert spy.rows[0] == len(image_embeds)
    assert spy.rows[1] == len(image_embeds) * config.num_beams
    left = [kept for kept in spy.kept if kept is not None]
    assert left, 'no input finished before the others: the test does not exercise leaving'
    assert spy.rows[-1] < spy.rows[1]
    lengths = {int((row != PAD).sum()) for row in fast}
    assert len(lengths) > 1  # the inputs really end at different lengths


def test_leaving_inputs_keep_their_image_and_mask(decoder, image_embeds):
    # Each input decoded alone equals it decoded in a batch where others leave early.
    config = GenerationConfig(strategy='beam', num_beams=3, max_length=14, min_length=5)
    mask = torch.ones(5, 17, dtype=torch.long)
    mask[2, 6:] = 0
    prompt = PROMPT.expand(len(image_embeds), -1)
    with torch.no_grad():
        batched, _ = generate(
            decoder.incremental(image_embeds, mask, max_length=14), prompt, config, EOS, PAD
        )
        alone = [
            generate(decoder.incremental(image_embeds[i : i + 1], mask[i : i + 1]), PROMPT, config, EOS, PAD)[
                0
            ]
            for i in range(len(image_embeds))
        ]
    for i, sequence in enumerate(alone):
        assert batched[i, : sequence.shape[1]].tolist() == sequence[0].tolist()


@pytest.mark.parametrize('build', [tiny_caption_config, tiny_vqa_config])
def test_precision_autocasts_generation(build):
    from mmpretrain.structures import DataSample

    model = randomize(MODELS.build(build())).eval()
    images = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    captioning = isinstance(model, BlipCaption)
    decoder = model.head.decoder
    dtypes = []
    hook = decoder.cls.predictions.transform.dense.register_forward_hook(
        lambda m, i, o: dtypes.append(o.dtype)
    )

    def run():
        if captioning:
            return [s.pred_caption for s in model(images, mode='predict')]
        samples = model(
            images, [DataSample(question='what is it'), DataSample(question='why')], mode='predict'
        )
        return [s.pred_answer for s in samples]

    try:
        with torch.no_grad():
            full = run()
            assert set(dtypes) == {torch.float32}
            dtypes.clear()
            model.precision = 'bfloat16'
            low = run()
            assert set(dtypes) == {torch.bfloat16}
        with torch.inference_mode():  # inference mode gives the same
            assert run() == low
    finally:
        hook.remove()
    assert len(low) == len(full)
    with pytest.raises(ValueError, match=r"precision must be one of \['bfloat16', 'float16', 'float32'\]"):
        model.precision = 'float8'


def test_precision_is_a_model_option():
    with pytest.raises(ValueError, match='precision must be one of'):
        MODELS.build(tiny_caption_config(precision='half'))
    model = get_model(Config(dict(model=tiny_caption_config())), precision='bfloat16')
    assert model.precision == 'bfloat16'


def test_infer_tool_takes_the_precision(monkeypatch, capsys):
    from blip.cli import infer

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    image = 'demo/large-blue-circle.png'
    from blip.models import base

    with mock.patch.object(base, 'inference_precision', wraps=base.inference_precision) as spy:
        results = infer.main(['blip-tiny_shapes_caption', image, '--precision', 'bfloat16'])
    assert spy.call_args.args[0] == 'bfloat16'
    assert results[0]['pred_caption'] and capsys.readouterr().out.startswith(image)
    with pytest.raises(SystemExit):
        infer.parse_args(['blip-tiny_shapes_caption', image, '--precision', 'half'])
    assert "invalid choice: 'half'" in capsys.readouterr().err


def test_benchmark_tool_runs_and_reports(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / 'tools'))
    benchmark = importlib.import_module('benchmark')
    # The trained model's agreement on 20 scenes instead of 200 (most of the tool's time).
    monkeypatch.setattr(
        benchmark, 'trained_model_agreement', partial(benchmark.trained_model_agreement, num_images=20)
    )
    args = ['--size', 'tiny', '--tasks', 'caption', 'vqa', '--batch-sizes', '2', '--threads', '1']
    results = benchmark.main(args)
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(
        line.startswith('trained model (blip-tiny_shapes_caption, 20 shapes scenes)') for line in lines
    )
    assert re.fullmatch(r'caption speedup vs transformers: \d+\.\d\dx \(identical captions 2/2\)', lines[-1])
    assert re.fullmatch(r'vqa speedup vs transformers: \d+\.\d\dx \(identical answers 2/2\)', lines[-2])
    assert any('blip bfloat16' in line and 'identical captions' in line for line in lines)
    # Each batch splits both sides' time at the image tower and bounds ours from below.
    split = [line for line in lines if re.match(r'\s+2  image tower: transformers \d+\.\d\d s, ours', line)]
    floors = [
        line for line in lines if re.match(r'\s+2  floor: the faster image tower and [1-9]\d* steps', line)
    ]
    assert len(split) == len(floors) == 2
    assert any(line.strip().startswith('CIDEr-D of the bfloat16 captions') for line in lines)
    assert results['caption'][1:] == (2, 2)


def test_benchmark_floor_counts_the_weights_every_decoding_step_reads(monkeypatch):
    """Per layer: self-attention's four products, cross-attention's query and output (its
    keys and values are computed once per image), the feed-forward pair; then the LM head."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / 'tools'))
    benchmark = importlib.import_module('benchmark')
    spec = benchmark.SIZES['tiny']
    dims, ffn, vocab = spec['dims'], spec['ffn'], 30524
    per_layer = 6 * dims * dims + 2 * dims * ffn
    expected = 4 * (spec['layers'] * per_layer + dims * dims + vocab * dims)
    model = benchmark.build_ours(benchmark.TASKS['caption'], 'tiny', seed=0, eos_bias=1.0)
    assert benchmark.step_weight_bytes(model.head.decoder) == expected


def test_best_running_stop_equals_transformers_v5():
    # transformers >= 4.50 ends an input's search when its best running beam
    # cannot win; with end tokens likely, it often stops before 4.38 would.
    from transformers import BlipConfig, BlipForConditionalGeneration

    torch.manual_seed(0)
    config = BlipConfig(vision_config=hf_parity.HF_VISION, text_config=hf_parity.HF_TEXT)
    hf_model = BlipForConditionalGeneration(config).eval()
    with torch.no_grad():
        for name, param in hf_model.named_parameters():
            norm = any(n in name for n in ('LayerNorm', 'layer_norm', 'layernorm'))
            param.normal_(1.0 if norm and name.endswith('weight') else 0.0, 0.1)
        hf_model.text_decoder.cls.predictions.bias[EOS] += 3.0
    converted = hf_blip_to_blip(hf_model.state_dict())
    images = torch.randn(8, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    kwargs = dict(num_beams=3, max_length=20, min_length=5)
    theirs = hf_parity.hf_generate(
        hf_model,
        hf_parity.build_caption_model().tokenizer,
        images,
        **kwargs,
        output_scores=True,
        return_dict_in_generate=True,
    )
    outputs = {}
    for stop in ('best_running', 'best_candidate'):
        model = hf_parity.load_converted(converted, beam_stop=stop, **kwargs)
        with torch.no_grad():
            outputs[stop] = model.generate(images)
    sequences, scores = outputs['best_running']
    assert hf_parity.until_eos(sequences) == hf_parity.until_eos(theirs.sequences)
    torch.testing.assert_close(scores, theirs.sequences_scores, rtol=0, atol=1e-5)
    # The default (4.38's rule) searches on where v5 stopped, and scores higher there.
    default_sequences, default_scores = outputs['best_candidate']
    differs = [a != b for a, b in zip(hf_parity.until_eos(default_sequences), hf_parity.until_eos(sequences))]
    assert any(differs)
    assert all(default_scores[i] > scores[i] for i, d in enumerate(differs) if d)
