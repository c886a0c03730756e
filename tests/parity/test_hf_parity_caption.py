"""Hugging Face BLIP -> blip: the converter, and caption parity with transformers v5.

A tiny random ``BlipForConditionalGeneration`` is converted with
``hf_blip_to_blip`` and loaded strictly into our ``BlipCaption``; both must
compute the same image tokens, teacher-forced logits and captions.

How v5's ``BlipForConditionalGeneration.generate`` (``modeling_blip.py``) treats
its inputs, and what the comparisons do about it:

* ``input_ids`` are expected as the processor makes them, ``[CLS] prompt
  [SEP]``: the first token is overwritten with bos (``[DEC]``) in place, in the
  caller's tensor (we pass a copy), and the last token is dropped. The decoder
  thus starts from ``[DEC] + prompt``, which is what our ``prompt_ids`` are.
* ``max_length`` and ``min_length`` count those prompt tokens, as ours (and
  transformers 4.38's) do, so both models get the same numbers.
* Beam search fills finished sequences with the eos token, not pad
  (``pad_token_id or eos_token_id[0]`` reads pad id 0 as unset); greedy search
  and our loop fill with pad. Sequences are compared up to their first eos.
* Since transformers 4.50's beam-search rewrite, the early-stop check weighs
  the best *running* beam against the finished ones; 4.38, which produced
  BLIP's published captions and which our loop follows, weighed the best
  candidate including those just ended by eos. v5 may thus stop sooner and
  return a lower-scoring caption. Beam parity is therefore checked with
  ``min_length = max_length - 1``, where no beam ends before the last step and
  the check never runs. With eos allowed early the divergence goes one way
  only: our best score is at least v5's (``test_beam_search_with_early_eos``).
"""

import copy

import pytest
import torch

import blip  # noqa: F401
from blip.checkpoint import load_checkpoint
from blip.converters import hf_blip_to_blip
from hf_blip_models import (
    BOS,
    EOS,
    PROMPT,
    build_caption_model,
    build_hf_caption_model,
    captions_of,
    hf_generate,
    load_converted,
    until_eos,
)


@pytest.fixture(scope='module')
def hf_model():
    return build_hf_caption_model()


@pytest.fixture(scope='module')
def converted(hf_model):
    return hf_blip_to_blip(hf_model.state_dict())


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(1))


def test_converted_state_dict_has_exactly_our_keys(converted):
    model = build_caption_model()
    assert set(converted) == set(model.state_dict())
    model.load_state_dict(converted, strict=True)
    decoder = model.head.decoder
    assert torch.equal(decoder.cls.predictions.decoder.weight, decoder.bert.embeddings.word_embeddings.weight)
    assert torch.equal(decoder.bert.embeddings.position_ids, torch.arange(512)[None])


def test_image_embeddings_equal(hf_model, converted, images):
    model = load_converted(converted)
    with torch.no_grad():
        ours = model.image_encoder(images)
        theirs = hf_model.vision_model(pixel_values=images).last_hidden_state
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)


def test_teacher_forced_logits_match(hf_model, converted, images):
    model = load_converted(converted)
    texts = [
        PROMPT + c
        for c in ('a dog runs on the grass', 'two cats', 'a red bus parked next to a tall building')
    ]
    tokens = model.tokenizer(texts, padding='longest', return_tensors='pt')
    input_ids, mask = tokens.input_ids, tokens.attention_mask
    input_ids[:, 0] = BOS  # as the caption loss and HF's generate feed the decoder
    with torch.no_grad():
        image_embeds = hf_model.vision_model(pixel_values=images).last_hidden_state
        theirs = hf_model.text_decoder(
            input_ids, attention_mask=mask, encoder_hidden_states=image_embeds
        ).logits
        ours = model.head.decoder(input_ids, mask, image_embeds=model.image_encoder(images))
    assert (mask == 0).any()  # the padding mask is exercised
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-4)


def test_greedy_search_matches(hf_model, converted, images):
    model = load_converted(converted, strategy='greedy', max_length=20, min_length=5)
    theirs = hf_generate(hf_model, model.tokenizer, images, num_beams=1, max_length=20, min_length=5)
    with torch.no_grad():
        ours, _ = model.generate(images)
        predicted = [sample.pred_caption for sample in model.predict(images)]
    assert ours.shape == theirs.shape
    assert until_eos(ours) == until_eos(theirs)
    assert predicted == captions_of(model.tokenizer, theirs)
    assert len(set(predicted)) >= 2, predicted
    assert len({len(row) for row in until_eos(ours)}) >= 2  # captions end at different lengths


def test_beam_search_matches(hf_model, converted, images):
    # No beam can end before the last step (see the module docstring).
    model = load_converted(converted, strategy='beam', num_beams=3, max_length=12, min_length=11)
    theirs = hf_generate(
        hf_model,
        model.tokenizer,
        images,
        num_beams=3,
        max_length=12,
        min_length=11,
        output_scores=True,
        return_dict_in_generate=True,
    )
    with torch.no_grad():
        ours, scores = model.generate(images)
        predicted = [sample.pred_caption for sample in model.predict(images)]
    assert ours.shape == theirs.sequences.shape
    assert until_eos(ours) == until_eos(theirs.sequences)
    torch.testing.assert_close(scores, theirs.sequences_scores, rtol=0, atol=1e-5)
    assert predicted == captions_of(model.tokenizer, theirs.sequences)
    assert len(set(predicted)) >= 2, predicted


def test_beam_search_with_early_eos_scores_at_least_v5(hf_model, images):
    # A stronger eos bias ends beams early, where v5's early-stop check differs.
    hf_model = copy.deepcopy(hf_model)
    with torch.no_grad():
        hf_model.text_decoder.cls.predictions.bias[EOS] += 1.0
    model = load_converted(hf_blip_to_blip(hf_model.state_dict()), num_beams=3, max_length=20, min_length=5)
    theirs = hf_generate(
        hf_model,
        model.tokenizer,
        images,
        num_beams=3,
        max_length=20,
        min_length=5,
        output_scores=True,
        return_dict_in_generate=True,
    )
    with torch.no_grad():
        ours, scores = model.generate(images)
    differs = [mine != hf for mine, hf in zip(until_eos(ours), until_eos(theirs.sequences))]
    for i, different in enumerate(differs):
        if different:  # v5 stopped sooner; 4.38 searched on and found a better caption
            assert scores[i] > theirs.sequences_scores[i]
        else:
            torch.testing.assert_close(scores[i], theirs.sequences_scores[i], rtol=0, atol=1e-5)
    assert any(differs), 'v5 now agrees with 4.38 here: update the module docstring and this test'


def test_converter_accepts_the_forms_hf_exports_take(hf_model, converted):
    state_dict = dict(hf_model.state_dict())
    for tied in ('decoder.weight', 'decoder.bias'):  # save_pretrained keeps one copy of a tie
        del state_dict[f'text_decoder.cls.predictions.{tied}']
    # Older transformers versions saved the (then persistent) position-id buffer.
    state_dict['text_decoder.bert.embeddings.position_ids'] = torch.arange(512)[None]
    # A flat (C,) class embedding is reshaped to our (1, 1, C).
    class_embedding = 'vision_model.embeddings.class_embedding'
    state_dict[class_embedding] = state_dict[class_embedding].flatten()
    again = hf_blip_to_blip(state_dict)
    assert set(again) == set(converted)
    assert all(torch.equal(again[key], converted[key]) for key in converted)


def test_converter_names_unknown_and_missing_keys(hf_model):
    state_dict = dict(hf_model.state_dict())
    state_dict['text_decoder.bert.pooler.dense.weight'] = torch.zeros(32, 32)
    del state_dict['vision_model.encoder.layers.1.mlp.fc2.bias']
    with pytest.raises(ValueError) as error:
        hf_blip_to_blip(state_dict)
    message = str(error.value)
    assert 'unknown keys: text_decoder.bert.pooler.dense.weight' in message
    assert 'missing keys: vision_model.encoder.layers.1.mlp.fc2.bias' in message


def test_converter_rejects_what_it_cannot_represent(hf_model, converted):
    untied = dict(hf_model.state_dict())
    untied['text_decoder.cls.predictions.decoder.weight'] = torch.zeros(30524, 32)
    with pytest.raises(ValueError, match='cls.predictions.decoder.weight'):
        hf_blip_to_blip(untied)
    with pytest.raises(ValueError, match="already in blip's format"):
        hf_blip_to_blip(converted)
    with pytest.raises(ValueError, match="look like task 'caption'"):
        hf_blip_to_blip(hf_model.state_dict(), task='vqa')
    with pytest.raises(ValueError, match='unknown task'):
        hf_blip_to_blip(hf_model.state_dict(), task='captioning')


@pytest.mark.parametrize('source', ['folder', 'model.safetensors', 'pytorch_model.bin'])
def test_convert_tool_writes_a_strictly_loadable_checkpoint(hf_model, images, tmp_path, source):
    folder = tmp_path / 'hf'
    if source == 'pytorch_model.bin':
        folder.mkdir()
        torch.save(hf_model.state_dict(), folder / source)
    else:
        hf_model.save_pretrained(folder)
    src = folder if source == 'folder' else folder / source
    from blip.cli import convert_hf_blip

    convert_hf_blip.main([str(src), str(tmp_path / 'out' / 'blip.pth')])

    checkpoint = torch.load(tmp_path / 'out' / 'blip.pth', weights_only=True)
    assert checkpoint['meta']['task'] == 'caption'
    assert 'BlipForConditionalGeneration' in checkpoint['meta']['converted_from']
    assert set(checkpoint['state_dict']) == set(build_caption_model().state_dict())
    model = load_checkpoint(build_caption_model(), tmp_path / 'out' / 'blip.pth')  # strict
    with torch.no_grad():
        ours = model.image_encoder(images)
        theirs = hf_model.vision_model(pixel_values=images).last_hidden_state
    torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-5)
