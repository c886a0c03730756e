"""An official BLIP_NLVR checkpoint, converted, reasons as the official code does.

Reference: the official code at its pins on a tiny 8-layer checkpoint (merge
layers in layers 6 and 7), see test_official_caption.py. The official model
starts the statement with ``[ENC]`` (``first_token='enc'``).
"""

import pytest
import torch
from mmpretrain.structures import DataSample

from blip.converters import official_to_blip
from official_fixtures import build, close, images, inputs, official_state_dict, outputs, tensor


@pytest.fixture(scope='module')
def model():
    net = build('nlvr')
    net.load_state_dict(official_to_blip(official_state_dict('BLIP_NLVR'), 'nlvr'), strict=True)
    return net


def test_logits_loss_and_first_token_states(model):
    record = outputs('nlvr')[0]['cases']['forward']
    pairs = torch.tensor(inputs()['nlvr_pairs'])
    image_pairs = images(96)[pairs]  # (B, 2, 3, H, W): left, right
    texts = record['texts']
    tokens = model.tokenize(texts, model.max_txt_len, first_token_id=model.tokenizer.enc_token_id)
    assert torch.equal(tokens.input_ids, tensor(record['input_ids']))
    targets = tensor(record['targets'])
    samples = [DataSample(text=t, gt_label=int(y)) for t, y in zip(texts, targets)]
    with torch.no_grad():
        logits = model.logits(image_pairs, texts)
        left, right = model.encode_image(image_pairs.transpose(0, 1).flatten(0, 1)).chunk(2)
        states = model.encode_multimodal(tokens.input_ids, tokens.attention_mask, [left, right])
        loss = model.loss(image_pairs, samples)['loss']
        predicted = [int(s.pred_label) for s in model.predict(image_pairs, samples)]
    close(states[:, 0], tensor(record['cls_hidden_state']))
    close(logits, tensor(record['prediction']))
    close(loss, tensor(record['loss']))
    assert predicted == record['pred_class']['values']


def test_cls_first_token_is_mmpretrains_and_differs(model):
    pairs = images(96)[torch.tensor(inputs()['nlvr_pairs'])]
    texts = outputs('nlvr')[0]['cases']['forward']['texts']
    with torch.no_grad():
        official = model.logits(pairs, texts)
        model.first_token = 'cls'
        try:
            mmpretrains = model.logits(pairs, texts)
        finally:
            model.first_token = 'enc'
    assert not torch.allclose(official, mmpretrains, atol=1e-3)
