"""The official BLIP converter on the tiny official checkpoints: every key
accounted for, and errors that name what is wrong."""

import pytest
import torch

from blip.converters import (
    CLASSES,
    CONVERSIONS,
    TASK_MODELS,
    NotConvertibleError,
    checkpoint_format,
    describe,
    explain_official,
    hf_blip_to_blip,
    official_class,
    official_to_blip,
    to_blip,
)
from official_fixtures import med_config, official_state_dict, read_json

TINY_CLASSES = ('BLIP_Pretrain', 'BLIP_Decoder', 'BLIP_Retrieval', 'BLIP_VQA', 'BLIP_NLVR')


@pytest.mark.parametrize('source, task', sorted(k for k in CONVERSIONS if k[0] in TINY_CLASSES))
def test_every_key_is_mapped_or_dropped_with_a_reason(source, task):
    fates = explain_official(official_state_dict(source), task)
    assert not [key for key, fate in fates.items() if fate == 'unknown']
    for key, fate in fates.items():
        assert fate.startswith('-> ') or (fate.startswith('dropped: ') and len(fate) > 20), (key, fate)


def test_each_released_checkpoint_is_recognised_and_has_a_conversion():
    for entry in read_json('checkpoint_map.json'):
        official = CLASSES[entry['class']]
        assert entry['checkpoint'] in official.checkpoints
        assert any(source == official.name for source, _ in CONVERSIONS), official.name
    for name in TINY_CLASSES:
        assert official_class(official_state_dict(name)).name == name
        assert checkpoint_format(official_state_dict(name)) == 'official'


def test_each_task_converts_from_the_classes_it_lists():
    for task, (_, _, sources) in TASK_MODELS.items():
        assert {s for s, t in CONVERSIONS if t == task} == set(sources)


def test_an_unknown_key_is_an_error_naming_it():
    state_dict = official_state_dict('BLIP_Decoder')
    state_dict['text_decoder.bert.pooler.dense.weight'] = torch.zeros(48, 48)
    with pytest.raises(ValueError, match=r'1 unknown keys: text_decoder\.bert\.pooler\.dense\.weight'):
        official_to_blip(state_dict, 'caption')
    assert explain_official(state_dict, 'caption')['text_decoder.bert.pooler.dense.weight'] == 'unknown'


def test_a_missing_key_is_an_error_naming_it():
    state_dict = official_state_dict('BLIP_Decoder')
    del state_dict['visual_encoder.blocks.1.mlp.fc2.bias']
    with pytest.raises(ValueError, match=r'1 missing keys: visual_encoder\.blocks\.1\.mlp\.fc2\.bias'):
        official_to_blip(state_dict, 'caption')


def test_a_checkpoint_of_another_task_says_what_it_is_and_what_was_expected():
    with pytest.raises(NotConvertibleError) as error:
        official_to_blip(official_state_dict('BLIP_VQA'), 'caption')
    message = str(error.value)
    assert 'BLIP_VQA (model_vqa.pth, model_base_vqa_capfilt_large.pth)' in message
    assert 'BlipCaption' in message and 'BLIP_Decoder' in message and 'BLIP_Pretrain' in message
    assert "converts to task 'vqa'" in message


def test_an_untied_output_projection_cannot_be_represented():
    state_dict = official_state_dict('BLIP_Decoder')
    state_dict['text_decoder.cls.predictions.decoder.weight'] = torch.zeros(30524, 48)
    with pytest.raises(ValueError, match='cls.predictions.decoder.weight.*tied to the word embeddings'):
        official_to_blip(state_dict, 'caption')


def test_not_an_official_checkpoint():
    ours = official_to_blip(official_state_dict('BLIP_Decoder'), 'caption')
    with pytest.raises(ValueError, match='not an official BLIP state dict'):
        official_to_blip(ours, 'caption')
    assert checkpoint_format(ours) == 'blip' and to_blip(ours, 'caption') is ours
    with pytest.raises(ValueError, match='unknown task'):
        official_to_blip(official_state_dict('BLIP_Decoder'), 'captioning')


def test_position_embeddings_resampled_to_the_image_size():
    pretrained = official_state_dict('BLIP_Pretrain')  # 64 px: 4 x 4 patches
    converted = official_to_blip(pretrained, 'retrieval', image_size=128)
    for key in ('vision_backbone.pos_embed', 'vision_backbone_m.pos_embed'):
        assert converted[key].shape == (1, 1 + 8 * 8, 48)
        assert torch.equal(
            converted[key][:, 0], pretrained[key.replace('vision_backbone', 'visual_encoder')][:, 0]
        )
    kept = official_to_blip(pretrained, 'retrieval')
    assert kept['vision_backbone.pos_embed'] is pretrained['visual_encoder.pos_embed']


def test_nlvr_from_pretraining_starts_both_branches_from_the_one_cross_attention():
    pretrained = official_state_dict('BLIP_Pretrain')
    torch.manual_seed(0)
    converted = official_to_blip(pretrained, 'nlvr')
    source = pretrained['text_encoder.encoder.layer.1.crossattention.self.key.weight']
    for branch in ('self0', 'self1'):
        assert converted[f'multimodal_backbone.encoder.layer.1.crossattention.{branch}.key.weight'] is source
    # The new classifier is initialised as nn.Linear is: uniform within 1/sqrt(48).
    head = converted['head.0.weight']
    assert head.shape == (48, 48) and head.abs().max() <= 48**-0.5 and head.std() > 0.05
    assert converted['head.2.weight'].shape == (2, 48)


def test_hugging_face_and_other_checkpoints_are_described():
    pretrained = official_state_dict('BLIP_Pretrain')
    assert describe(pretrained) == 'an official BLIP BLIP_Pretrain checkpoint (ViT, 48-d image tokens)'
    caption = official_to_blip(official_state_dict('BLIP_Decoder'), 'caption')
    assert describe(caption).startswith('a BlipCaption checkpoint')
    assert describe({'fc.weight': torch.zeros(2, 2)}).startswith('not a BLIP checkpoint')
    with pytest.raises(NotConvertibleError, match="transformers has no BLIP model for task 'nlvr'"):
        to_blip({'vision_model.embeddings.class_embedding': torch.zeros(48)}, 'nlvr')
    assert hf_blip_to_blip  # the Hugging Face converter is tested in tests/parity


def test_convert_tool_writes_a_strictly_loadable_checkpoint(tmp_path, capsys):
    from blip.checkpoint import load_checkpoint
    from blip.cli import convert_official_blip
    from official_fixtures import build, official_checkpoint_file

    src = official_checkpoint_file('BLIP_Pretrain', tmp_path)
    with pytest.raises(ValueError, match='choose one with --task'):
        convert_official_blip.main([str(src), str(tmp_path / 'out.pth')])
    checkpoint = convert_official_blip.main(
        [str(src), str(tmp_path / 'nlvr.pth'), '--task', 'nlvr', '--image-size', '96']
    )
    assert (
        checkpoint['meta']['task'] == 'nlvr'
        and checkpoint['meta']['converted_from'] == 'official BLIP BLIP_Pretrain'
    )
    assert checkpoint['state_dict']['vision_backbone.pos_embed'].shape == (1, 37, 48)
    saved = torch.load(tmp_path / 'nlvr.pth', weights_only=True)
    model = build('nlvr', text_encoder=dict(config=med_config()))  # 2 layers, as the tiny pre-training model
    load_checkpoint(model, tmp_path / 'nlvr.pth')  # strict: our format, fresh classifier included
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved['state_dict'].items())
    out = capsys.readouterr().out
    assert '-> ' in out and 'keys dropped: ' in out

    own = official_checkpoint_file('BLIP_Decoder', tmp_path)
    convert_official_blip.main([str(own), str(tmp_path / 'caption.pth'), '--explain'])
    out = capsys.readouterr().out
    assert 'visual_encoder.blocks.0.norm1.weight -> visual_encoder.layers.0.ln1.weight' in out
    assert torch.load(tmp_path / 'caption.pth', weights_only=True)['meta']['image_size'] == 384


def test_the_pretraining_layout_table_keeps_every_key():
    from blip.converters import pretraining_conversion, text_derived
    from blip.converters.official_pretrain import PRETRAIN_NAMES
    from blip.converters.tables import apply, plan

    conversion = pretraining_conversion(
        PRETRAIN_NAMES,
        text_derived(encoders=('text_encoder.', 'text_encoder_m.'), decoders=('text_decoder.',)),
    )
    pretrained = official_state_dict('BLIP_Pretrain')
    mapping = plan(conversion, pretrained)
    assert not mapping.unknown and not mapping.missing and not mapping.fresh
    assert len(mapping.names) == len(pretrained)  # nothing dropped
    converted = apply(conversion, pretrained, mapping)
    assert converted['itc_head.queue_ptr'] is pretrained['queue_ptr']
    # The official text encoder shares the decoder's tensors (99 modules); both names keep them.
    assert (
        converted['text_encoder.embeddings.word_embeddings.weight']
        is converted['text_decoder.bert.embeddings.word_embeddings.weight']
    )
    with pytest.raises(ValueError, match=r"no name for \['temp'\]"):
        pretraining_conversion({k: v for k, v in PRETRAIN_NAMES.items() if k != 'temp'})


def test_a_new_task_can_be_registered(monkeypatch):
    from blip.converters import official, pretraining_conversion, register_task
    from blip.converters.official_pretrain import PRETRAIN_NAMES

    monkeypatch.setattr(official, 'TASK_MODELS', dict(official.TASK_MODELS))
    monkeypatch.setattr(official, 'CONVERSIONS', dict(official.CONVERSIONS))
    register_task('new_task', 'BlipPretrain', 224, {'BLIP_Pretrain': pretraining_conversion(PRETRAIN_NAMES)})
    converted = official_to_blip(official_state_dict('BLIP_Pretrain'), 'new_task')
    assert len(converted) == len(official_state_dict('BLIP_Pretrain'))
    with pytest.raises(NotConvertibleError, match='BlipPretrain'):
        official_to_blip(official_state_dict('BLIP_Decoder'), 'new_task')
