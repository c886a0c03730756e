"""Fine-tuning starts where the paper's did, end to end on the shapes benchmark.

A pre-training checkpoint in the official layout (the official code's tiny
BLIP_Pretrain of the fixtures: 64 px, 48-d towers, a queue of 12) is the
``load_from`` of each task's training run, as the official configs
(``*_official.py``) start from the authors' ``model_base.pth``: mmengine's
Runner reads the file, our model converts it while loading (position
embeddings 64 -> 96 px, queues kept, NLVR's two cross-attention branches from
the one, a new classifier), and a few steps of fine-tuning at the official
learning rate follow. The shapes configs give the data; their towers are
set to the checkpoint's sizes and the models to the official code's options.
"""

from argparse import Namespace

import pytest
import torch
from mmengine.runner import Runner

from blip.cli._common import load_config
from blip.converters import official_to_blip
from official_fixtures import official_checkpoint_file, official_state_dict
from shapes_e2e import REPO

#: The official tiny towers (tests/data/official_blip/tiny_configs).
VIT = 'dict(arch=dict(_delete_=True, embed_dims=48, num_layers=2, num_heads=3, feedforward_channels=192))'
TEXT = (
    'dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=3, intermediate_size=96, encoder_width=48)'
)
#: task -> (shapes config, data folder below the benchmark, the model's changes).
TASKS = {
    'caption': (
        'blip-tiny_shapes_caption.py',
        '',
        f'dict(image_encoder={VIT}, head=dict(decoder=dict(config={TEXT})), max_txt_len=40, '
        "generation_cfg=dict(min_length=5, beam_length='total'))",
    ),
    'vqa': (
        'blip-tiny_shapes_vqa.py',
        '',
        f'dict(image_encoder={VIT}, text_encoder=dict(config={TEXT}), '
        f"head=dict(decoder=dict(config={TEXT}), label_smoothing=0.1), answer_first_token='dec', "
        "generation_cfg=dict(beam_length='total'))",
    ),
    'retrieval': (
        'blip-tiny_shapes_retrieval.py',
        '',
        f'dict(image_encoder={VIT}, text_encoder=dict(config={TEXT}), embed_dim=32, momentum=0.995, '
        'itc_head=dict(queue_size=12, temperature_range=(0.001, 0.5)))',
    ),
    'nlvr': (
        'blip-tiny_shapes_nlvr.py',
        'nlvr2',
        f"dict(image_encoder={VIT}, text_encoder=dict(config={TEXT}), first_token='enc')",
    ),
}
#: Keys compared with the converted pre-trained weights (the model's checkpoint names).
PROBES = {
    'caption': ('visual_encoder.cls_token', 'seq_gen_head.decoder.bert.embeddings.word_embeddings.weight'),
    'vqa': (
        'vision_backbone.cls_token',
        'multimodal_backbone.encoder.layer.1.crossattention.self.key.weight',
    ),
    'retrieval': (
        'vision_backbone.cls_token',
        'text_backbone.embeddings.word_embeddings.weight',
        'vision_neck.weight',
    ),
    'nlvr': (
        'vision_backbone.cls_token',
        'multimodal_backbone.encoder.layer.0.crossattention.self0.query.weight',
        'multimodal_backbone.encoder.layer.0.crossattention.self1.query.weight',
    ),
}


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory):
    return official_checkpoint_file('BLIP_Pretrain', tmp_path_factory.mktemp('official'))


def fine_tune(task, pretrained, shapes_root, work_dir):
    config, folder, model = TASKS[task]
    child = work_dir / f'{task}_from_pretraining.py'
    child.write_text(
        f'_base_ = [{str(REPO / "configs/blip" / config)!r}]\n'
        f'model = {model}\n'
        f'load_from = {str(pretrained)!r}\n'
        'train_dataloader = dict(batch_size=4, dataset=dict(indices=8))\n'
        'optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=0.05))\n'
        "param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0, end=1)]\n"
        'train_cfg = dict(max_epochs=1)\n'
        'val_cfg = val_dataloader = val_evaluator = None\n'
        'default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=1))\n'
    )
    args = Namespace(
        config=str(child),
        cfg_options={'data_root': str(shapes_root / folder)},
        work_dir=str(work_dir),
        launcher='none',
    )
    Runner.from_cfg(load_config(args)).train()
    return torch.load(work_dir / 'epoch_1.pth', weights_only=True)['state_dict']


@pytest.mark.parametrize('task', sorted(TASKS))
def test_fine_tuning_starts_from_the_converted_pretrained_weights(task, pretrained, shapes_root, tmp_path):
    tuned = fine_tune(task, pretrained, shapes_root, tmp_path)
    start = official_to_blip(official_state_dict('BLIP_Pretrain'), task, image_size=96)
    assert set(tuned) == set(start)
    for key in PROBES[task]:
        # Two AdamW steps at lr 1e-5 move each weight by about 2e-5 at most.
        torch.testing.assert_close(tuned[key], start[key], rtol=0, atol=1e-4, msg=key)
    changed = [key for key in PROBES[task] if not torch.equal(tuned[key], start[key])]
    assert changed, 'no weight moved: the model did not train'
    log = next(tmp_path.rglob('*.log')).read_text()
    assert 'Converted an official BLIP BLIP_Pretrain checkpoint' in log
    assert 'Epoch(train) [1][2/2]' in log
