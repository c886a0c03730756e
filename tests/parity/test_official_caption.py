"""An official BLIP_Decoder checkpoint, converted, captions as the official code does.

The reference (``tests/data/official_blip``, from ../shared/fixtures/official_blip)
is the official code run at its pins (transformers 4.15) on a tiny checkpoint
in the official layout. Ids, captions and sampled tokens must be equal;
floats within the fixtures' measured noise (1e-5).
"""

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from blip.converters import official_to_blip
from blip.models import GenerationConfig
from official_fixtures import build, close, images, official_state_dict, outputs, tensor


@pytest.fixture(scope='module')
def model():
    net = build('caption')
    net.load_state_dict(official_to_blip(official_state_dict('BLIP_Decoder'), 'caption'), strict=True)
    return net


@pytest.fixture(scope='module')
def reference():
    return outputs('caption')


def test_image_embeddings(model, reference):
    with torch.no_grad():
        close(model.encode_image(images(96)), reference[1]['forward_loss/image_embeds'])


def test_training_loss_inputs_and_logits(model, reference):
    case = reference[0]['cases']['forward_loss']
    captions = [caption[len(model.prompt) :] for caption in case['captions']]
    samples = [DataSample(gt_caption=caption) for caption in captions]
    tokens = model.tokenize(
        [model.prompt + c for c in captions], 40, first_token_id=model.tokenizer.bos_token_id
    )
    assert torch.equal(tokens.input_ids, tensor(case['input_ids']))
    assert torch.equal(tokens.attention_mask, tensor(case['attention_mask']))
    with torch.no_grad():
        loss = model.loss(images(96), samples)['seq_gen_lm_loss']
        image_embeds = model.encode_image(images(96))
        logits = model.head.decoder(tokens.input_ids, tokens.attention_mask, image_embeds=image_embeds)
        logits = logits[:, :-1]
    close(loss, tensor(case['loss']))
    top = logits.topk(5, dim=-1)
    assert torch.equal(top.indices, tensor(case['next_token_top5_ids']))
    close(top.values, tensor(case['next_token_top5_logits']))
    targets = tensor(case['decoder_targets'])[:, 1:]
    log_probs = F.log_softmax(logits.double(), dim=-1).gather(2, targets.clamp(min=0)[..., None])[..., 0]
    expected = tensor(case['next_token_logprob_of_target_f64'])
    close(log_probs[targets >= 0], expected[targets >= 0])


@pytest.mark.parametrize(
    'case, settings',
    [
        ('generate_beam3', dict(strategy='beam', num_beams=3, max_length=20, min_length=5)),
        ('generate_greedy', dict(strategy='greedy', max_length=20, min_length=5)),
        # The official generate()'s defaults.
        ('generate_beam3_defaults', dict(strategy='beam', num_beams=3, max_length=30, min_length=10)),
    ],
)
def test_beam_and_greedy_search(model, reference, case, settings):
    model.generation_cfg = GenerationConfig(**settings, beam_length='total')
    with torch.no_grad():
        ids, _ = model.generate(images(96))
        captions = [sample.pred_caption for sample in model.predict(images(96))]
    assert torch.equal(ids, reference[1][f'{case}/output_ids'])
    assert captions == reference[0]['cases'][case]['captions']


def test_nucleus_sampling_draws_the_same_tokens(model, reference):
    # The official sample=True call: top_p 0.9, its hard-coded repetition
    # penalty 1.1, and transformers 4.15's default top_k 50 before top_p.
    case = reference[0]['cases']['generate_nucleus']
    assert case['hf_generate_kwargs']['repetition_penalty'] == 1.1
    model.generation_cfg = GenerationConfig(
        strategy='sample', top_p=0.9, top_k=50, repetition_penalty=1.1, max_length=20, min_length=5
    )
    torch.manual_seed(42)
    with torch.no_grad():
        captions = [sample.pred_caption for sample in model.predict(images(96))]
    torch.manual_seed(42)
    with torch.no_grad():
        ids, _ = model.generate(images(96))
    assert torch.equal(ids, reference[1]['generate_nucleus/output_ids'])
    assert captions == case['captions']
