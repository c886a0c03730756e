"""Hugging Face ``BlipForQuestionAnswering`` -> our ``BlipVQA``: converter and parity.

A tiny random transformers v5 model is converted with ``hf_blip_to_blip(...,
task='vqa')`` and loaded strictly into ``BlipVQA``; both must compute the same
question states and answer logits and generate the same answers.

Inputs are fed to Hugging Face as our model feeds its towers: ``[ENC]`` first
in the question (Hugging Face's processor leaves ``[CLS]``). Hugging Face's
``generate`` lets the answer attend to the question's padding (all-ones mask,
as mmpretrain and BLIP do), ours does not, so batched generation is compared
on questions of one token length, and our padded batch against Hugging Face
answering each question alone. Beam search is compared with ``min_length =
max_length - 1`` for the reason given in ``test_hf_parity_caption.py`` (v5
stops beam search earlier than 4.38, which our loop follows).
"""

import pytest
import torch
from mmpretrain.structures import DataSample
from transformers import BlipConfig, BlipForQuestionAnswering

import blip  # noqa: F401
from blip.checkpoint import load_checkpoint
from blip.converters import guess_hf_task, hf_blip_to_blip
from blip.registry import MODELS
from hf_blip_models import EOS, HF_TEXT, HF_VISION
from tiny_models import tiny_vqa_config

ENC = 30523
SAME_LENGTH = ['what is on the table', 'is the man in red', 'how many dogs are here']
MIXED_LENGTH = ['what colour is the big car parked next to the old house', 'why', 'is it sunny']


@pytest.fixture(scope='module')
def hf_model():
    torch.manual_seed(0)
    model = BlipForQuestionAnswering(BlipConfig(vision_config=HF_VISION, text_config=HF_TEXT)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            norm = any(n in name for n in ('LayerNorm', 'layer_norm', 'layernorm'))
            param.normal_(1.0 if norm and name.endswith('weight') else 0.0, 0.1)
        model.text_decoder.cls.predictions.bias[EOS] += 1.0  # answers of varying length
    return model


@pytest.fixture(scope='module')
def images():
    return torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(7))


def our_model(hf_model, **generation_cfg) -> torch.nn.Module:
    model = MODELS.build(tiny_vqa_config(generation_cfg=generation_cfg)).eval()
    model.load_state_dict(hf_blip_to_blip(hf_model.state_dict(), task='vqa'), strict=True)
    return model


def hf_question_inputs(model, questions):
    ids, mask = model.tokenize_questions(questions)
    return ids, mask


def answers_of(model, images, questions):
    with torch.no_grad():
        samples = model.predict(images, [DataSample(question=q) for q in questions])
    return [s.pred_answer for s in samples]


def hf_answers(hf_model, model, images, questions, **kwargs):
    ids, mask = hf_question_inputs(model, questions)
    assert (ids[:, 0] == ENC).all()
    with torch.no_grad():
        sequences = hf_model.generate(input_ids=ids, pixel_values=images, attention_mask=mask, **kwargs)
    return model.tokenizer.batch_decode(sequences, skip_special_tokens=True)


def test_converted_keys_equal_ours_and_load_strictly(hf_model):
    converted = hf_blip_to_blip(hf_model.state_dict(), task='vqa')
    model = MODELS.build(tiny_vqa_config())
    assert set(converted) == set(model.state_dict())
    assert guess_hf_task(hf_model.state_dict()) == 'vqa'
    model.load_state_dict(converted, strict=True)
    decoder = model.head.decoder
    assert torch.equal(decoder.cls.predictions.decoder.weight, decoder.bert.embeddings.word_embeddings.weight)


def test_question_states_and_answer_logits_match(hf_model, images):
    model = our_model(hf_model)
    ids, mask = hf_question_inputs(model, MIXED_LENGTH)
    answers = model.tokenizer(['two', 'a red car', 'yes'], padding='longest', return_tensors='pt')
    answers.input_ids[:, 0] = model.tokenizer.bos_token_id
    with torch.no_grad():
        image_embeds = hf_model.vision_model(pixel_values=images).last_hidden_state
        theirs_states = hf_model.text_encoder(
            input_ids=ids, attention_mask=mask, encoder_hidden_states=image_embeds
        ).last_hidden_state
        ours_states, ours_mask = model.encode_questions(images, MIXED_LENGTH)
        ours_logits = model.head.decoder(
            answers.input_ids, answers.attention_mask, image_embeds=ours_states, image_mask=ours_mask
        )
        # v5's BlipTextAttention drops encoder_attention_mask (it reaches the
        # attention as None), so Hugging Face gets each question's real states only.
        theirs_logits = torch.cat(
            [
                hf_model.text_decoder(
                    input_ids=answers.input_ids[i : i + 1],
                    attention_mask=answers.attention_mask[i : i + 1],
                    encoder_hidden_states=theirs_states[i : i + 1, : int(mask[i].sum())],
                ).logits
                for i in range(len(MIXED_LENGTH))
            ]
        )
    assert (mask == 0).any() and (answers.attention_mask == 0).any()  # both padding masks exercised
    real = mask.bool()
    torch.testing.assert_close(ours_states[real], theirs_states[real], rtol=0, atol=1e-5)
    torch.testing.assert_close(ours_logits, theirs_logits, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    'strategy, hf_kwargs',
    [
        ('greedy', dict(num_beams=1, max_length=10, min_length=1)),
        ('beam', dict(num_beams=3, max_length=10, min_length=9)),
    ],
)
def test_generated_answers_match(hf_model, images, strategy, hf_kwargs):
    model = our_model(hf_model, strategy=strategy, **hf_kwargs)
    ours = answers_of(model, images, SAME_LENGTH)
    assert ours == hf_answers(hf_model, model, images, SAME_LENGTH, **hf_kwargs)
    assert len(set(ours)) >= 2, ours
    # Padded batch: each answer is Hugging Face's answer to that question alone.
    ours = answers_of(model, images, MIXED_LENGTH)
    alone = [
        hf_answers(hf_model, model, images[i : i + 1], [q], **hf_kwargs)[0]
        for i, q in enumerate(MIXED_LENGTH)
    ]
    assert ours == alone


def test_convert_tool_writes_a_vqa_checkpoint(hf_model, tmp_path):
    hf_model.save_pretrained(tmp_path / 'hf')
    from blip.cli import convert_hf_blip

    convert_hf_blip.main([str(tmp_path / 'hf'), str(tmp_path / 'blip_vqa.pth'), '--task', 'vqa'])
    checkpoint = torch.load(tmp_path / 'blip_vqa.pth', weights_only=True)
    assert checkpoint['meta']['converted_from'] == 'transformers BlipForQuestionAnswering'
    model = load_checkpoint(MODELS.build(tiny_vqa_config()), tmp_path / 'blip_vqa.pth')  # strict
    expected = hf_blip_to_blip(hf_model.state_dict(), task='vqa')
    assert all(torch.equal(value, expected[key]) for key, value in model.state_dict().items())
