"""Pre-training end to end on the generated shapes corpus: two processes through
tools/dist_train.sh reading shards with a corrupt image and a truncated tar to the
end, then fine-tuning from the pre-trained checkpoint as from the authors' ones."""

import re
import shutil

import pytest
import torch

from blip.datasets import ShardWriter, read_shard
from shapes_e2e import data_root_options, dist, train_model

CONFIG = 'configs/blip/blip-tiny_shapes_pretrain.py'


@pytest.fixture(scope='module')
def corpus_root(tmp_path_factory):
    """A clean set of 12 images (36 captions) and 48 web images in 3 good shards, plus
    a shard with a corrupt image among good ones and a truncated copy of a shard."""
    from blip.cli.generate_shapes import generate

    root = generate(tmp_path_factory.mktemp('corpus'), train=12, val=2, test=10, web=48, web_shard_size=16)
    shards = root / 'web/shards'
    good = list(read_shard(shards / '00000.tar'))
    with ShardWriter(shards / '00003.tar') as writer:
        for i, sample in enumerate(good[:8]):
            image = b'this is not a JPEG' if i == 3 else sample.image
            writer.write(f'bad{i:02d}', image, 'jpg', texts=sample.texts)
    shutil.copy(shards / '00001.tar', shards / '00004.tar')
    shutil.copy(shards / '00001_stats.json', shards / '00004_stats.json')
    data = (shards / '00004.tar').read_bytes()
    (shards / '00004.tar').write_bytes(data[: len(data) // 2])
    return root


@pytest.fixture(scope='module')
def pretrained(corpus_root, tmp_path_factory):
    """One epoch on two processes, 8 pairs per process and batch."""
    work_dir = tmp_path_factory.mktemp('pretrain')
    options = [
        *data_root_options(corpus_root),
        'train_cfg.max_epochs=1',
        'param_scheduler.1.end=1',
        'train_dataloader.batch_size=8',
        'default_hooks.checkpoint.interval=1',
    ]
    result = dist('dist_train.sh', CONFIG, '2', '--work-dir', str(work_dir), options=options, port=29661)
    return work_dir, result.stdout + result.stderr


def test_two_processes_read_every_shard_and_count_the_bad_data(pretrained):
    work_dir, output = pretrained
    assert (work_dir / 'epoch_1.pth').is_file()
    log = next(work_dir.rglob('*.log')).read_text()
    # 36 + 48 + 8 + 16 pairs counted from the shards' statistics, 54 per process.
    assert 'ImageTextCorpus: 108 pairs in 6 shards' in log
    summary = [line for line in log.splitlines() if 'epoch 0, all 2 processes: 108 pairs read' in line]
    assert summary, log[-3000:]
    # The truncated shard's second half is lost, so the readers read their shards
    # again to fill the epoch: the bad image and shard may be met twice.
    assert re.search(r'skipped bad shard: [12], corrupt image: [12]$', summary[0]), summary[0]
    assert 'Epoch(train) [1][6/6]' in log  # 54 pairs per process, batches of 8 (the last one dropped)


def test_fine_tuning_starts_from_the_pretrained_checkpoint(pretrained, corpus_root, tmp_path):
    """The tiny captioner loads the pre-training checkpoint with load_from (converted
    as the authors' checkpoints are): its towers start as the pre-trained ones."""
    work_dir, _ = pretrained
    checkpoint = work_dir / 'epoch_1.pth'
    options = [
        *data_root_options(corpus_root),
        f'load_from={checkpoint}',
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=2',
        'param_scheduler.1.end=1',
        'optim_wrapper.optimizer.lr=0',
        'param_scheduler.0.start_factor=1',
    ]
    result = train_model('configs/blip/blip-tiny_shapes_caption.py', tmp_path, options)
    assert 'Converted a BlipPretrain checkpoint' in result.stdout + result.stderr
    pretrained_state = torch.load(checkpoint, weights_only=False)['state_dict']
    fine_tuned = torch.load(tmp_path / 'epoch_1.pth', weights_only=False)['state_dict']
    for ours, theirs in (
        ('visual_encoder.layers.0.attn.qkv.weight', 'image_encoder.layers.0.attn.qkv.weight'),
        (
            'seq_gen_head.decoder.bert.encoder.layer.1.crossattention.self.key.weight',
            'text_decoder.bert.encoder.layer.1.crossattention.self.key.weight',
        ),
        (
            'seq_gen_head.decoder.bert.encoder.layer.0.attention.self.query.weight',
            'text_decoder.bert.encoder.layer.0.attention.self.query.weight',
        ),
    ):
        torch.testing.assert_close(fine_tuned[ours], pretrained_state[theirs], rtol=0, atol=0)
