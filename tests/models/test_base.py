"""``BlipModel``: one attribute name per tower in every task, mmpretrain's names in checkpoints."""

import copy
import io

import pytest
import torch

import blip  # noqa: F401
from blip.models import BlipCaption, BlipVQA
from blip.registry import MODELS
from tiny_models import randomize, tiny_caption_config, tiny_vqa_config


@pytest.mark.parametrize(
    'build, ours, theirs',
    [
        (tiny_caption_config, 'image_encoder.cls_token', 'visual_encoder.cls_token'),
        (
            tiny_caption_config,
            'head.decoder.bert.embeddings.position_ids',
            'seq_gen_head.decoder.bert.embeddings.position_ids',
        ),
        (
            tiny_vqa_config,
            'text_encoder.embeddings.word_embeddings.weight',
            'multimodal_backbone.embeddings.word_embeddings.weight',
        ),
    ],
)
def test_checkpoints_carry_mmpretrains_names(build, ours, theirs):
    model = MODELS.build(build())
    names = {name for name, _ in model.named_parameters()} | {name for name, _ in model.named_buffers()}
    assert ours in names and theirs not in names
    state = model.state_dict()
    assert theirs in state and ours not in state
    assert model.checkpoint_key(ours) == theirs
    # Loading takes the checkpoint names, and the attribute names too.
    tensors = [*model.named_parameters(remove_duplicate=False), *model.named_buffers()]
    attribute_named = {name: value for name, value in tensors if model.checkpoint_key(name) in state}
    assert len(attribute_named) == len(state)
    for source in (state, attribute_named):
        other = randomize(MODELS.build(build()), seed=3)
        other.load_state_dict(source, strict=True)
        assert all(torch.equal(value, other.state_dict()[key]) for key, value in state.items())


def test_every_task_uses_the_same_tower_names():
    for build in (tiny_caption_config, tiny_vqa_config):
        model = MODELS.build(build())
        assert isinstance(model, (BlipCaption, BlipVQA))
        assert {'image_encoder', 'head'} <= {name for name, _ in model.named_children()}


def test_a_model_deep_copies_and_pickles_with_its_checkpoint_names():
    model = randomize(MODELS.build(tiny_caption_config()))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for twin in (copy.deepcopy(model), torch.load(buffer, weights_only=False)):
        assert list(twin.state_dict()) == list(model.state_dict())
        twin.load_state_dict(model.state_dict(), strict=True)


def test_mode_names_the_choices():
    model = MODELS.build(tiny_caption_config())
    with pytest.raises(ValueError, match="mode must be 'loss', 'predict' or 'tensor', got 'train'"):
        model(torch.zeros(1, 3, 64, 64), mode='train')
