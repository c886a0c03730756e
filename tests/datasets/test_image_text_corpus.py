"""ImageTextCorpus: shards split without overlap, reshuffled each epoch, bad data skipped and counted."""

import io
import json
import tarfile
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.logging import MMLogger
from PIL import Image

import blip.datasets.image_text_corpus as corpus_module
from blip.datasets import ImageTextCorpus, ShardWriter
from blip.datasets.image_text_corpus import expand_shards, stable_id


def png(value: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((8, 8, 3), value, np.uint8)).save(buffer, format='PNG')
    return buffer.getvalue()


def write_shards(root, num_shards, per_shard, texts_per_image=1):
    """Shards ``{i:05d}.tar`` of distinct images; every text names its shard, sample and number."""
    for shard in range(num_shards):
        with ShardWriter(root / f'{shard:05d}.tar') as writer:
            for k in range(per_shard):
                texts = [{'text': f's{shard} k{k} t{t}', 'source': 'web'} for t in range(texts_per_image)]
                writer.write(f'{shard:05d}{k:04d}', png(shard * 16 + k), image_ext='png', texts=texts)
    return [f'{shard:05d}.tar' for shard in range(num_shards)]


def read_as(dataset, rank, world_size, worker, num_workers, monkeypatch):
    """The texts reader (rank, worker) yields, as a process of ``world_size`` with ``num_workers`` workers."""
    dataset.rank, dataset.world_size = rank, world_size
    info = None if num_workers == 1 else SimpleNamespace(id=worker, num_workers=num_workers)
    monkeypatch.setattr(corpus_module, 'get_worker_info', lambda: info)
    dataset.set_epoch(0)
    return [sample['text'] for sample in dataset]


@pytest.mark.parametrize('num_shards', [8, 2], ids=['shards per reader', 'parts of shards'])
def test_processes_and_workers_read_every_pair_once(tmp_path, monkeypatch, num_shards):
    write_shards(tmp_path, num_shards, per_shard=24 // num_shards, texts_per_image=2)
    dataset = ImageTextCorpus(f'{{00000..{num_shards - 1:05d}}}.tar', data_root=str(tmp_path), seed=7)
    assert dataset.num_pairs == 48
    readers = [read_as(dataset, rank, 2, worker, 2, monkeypatch) for rank in (0, 1) for worker in (0, 1)]
    assert [len(texts) for texts in readers] == [12, 12, 12, 12]
    every = [text for texts in readers for text in texts]
    assert len(set(every)) == 48


def test_every_process_runs_the_same_number_of_pairs_with_uneven_shards(tmp_path, monkeypatch):
    write_shards(tmp_path, 3, per_shard=5)
    dataset = ImageTextCorpus('*.tar', data_root=str(tmp_path), seed=0)
    lengths = [len(read_as(dataset, rank, 2, worker, 2, monkeypatch)) for rank in (0, 1) for worker in (0, 1)]
    # 15 pairs: 7 per process, split 4 + 3 between the workers of each.
    assert lengths == [4, 3, 4, 3]


def test_reshuffled_each_epoch_and_resumed_epochs_read_alike(tmp_path):
    write_shards(tmp_path, 4, per_shard=6)
    dataset = ImageTextCorpus('*.tar', data_root=str(tmp_path), seed=3, shuffle_buffer=8)
    epochs = []
    for epoch in range(3):
        dataset.set_epoch(epoch)
        epochs.append([sample['text'] for sample in dataset])
    assert all(sorted(e) == sorted(epochs[0]) for e in epochs) and len(set(epochs[0])) == 24
    assert epochs[0] != epochs[1] != epochs[2]
    # A persistent worker (no set_epoch between epochs) and a resumed run read epoch 2 alike.
    persistent = ImageTextCorpus('*.tar', data_root=str(tmp_path), seed=3, shuffle_buffer=8)
    assert [[s['text'] for s in persistent] for _ in range(3)] == epochs


def test_a_dataloader_with_two_workers(tmp_path):
    write_shards(tmp_path, 4, per_shard=5)
    dataset = ImageTextCorpus('*.tar', data_root=str(tmp_path), seed=1)
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=2, num_workers=2, collate_fn=pseudo_collate, drop_last=True
    )
    texts = [text for batch in loader for text in batch['text']]
    assert len(loader) == 10 and len(texts) == 20 and len(set(texts)) == 20
    # The workers' counts reach the main process (CorpusEpochHook logs them).
    assert dataset.collect_counts() == {0: Counter(pairs=20)}


def test_pairs_carry_the_image_and_one_id_per_image(tmp_path):
    write_shards(tmp_path, 1, per_shard=2, texts_per_image=2)
    pairs = list(ImageTextCorpus('00000.tar', data_root=str(tmp_path), shuffle=False))
    assert [p['text'] for p in pairs] == ['s0 k0 t0', 's0 k0 t1', 's0 k1 t0', 's0 k1 t1']
    assert pairs[0]['img'].shape == (8, 8, 3) and pairs[0]['img'].dtype == np.uint8
    assert pairs[0]['image_id'] == pairs[1]['image_id'] == stable_id('00000.tar/000000000')
    assert pairs[1]['image_id'] != pairs[2]['image_id']


def test_the_authors_json_format_with_image_paths_and_urls(tmp_path):
    (tmp_path / 'images').mkdir()
    (tmp_path / 'images/a.png').write_bytes(png(10))
    (tmp_path / 'elsewhere.png').write_bytes(png(20))
    entries = [
        {'image': 'a.png', 'caption': 'a grey square'},
        {'url': (tmp_path / 'elsewhere.png').as_uri(), 'caption': 'a lighter square'},
        {'image': 'missing.png', 'caption': 'gone'},
        {'image': 'a.png', 'caption': 'from the filter', 'source': 'synthetic'},
    ]
    (tmp_path / 'corpus.json').write_text(json.dumps(entries))
    dataset = ImageTextCorpus('corpus.json', data_root=str(tmp_path), image_root='images', shuffle=False)
    assert dataset.num_pairs == 4  # the missing image's pair is counted: it is known missing when read
    dataset.num_pairs = 3
    pairs = list(dataset)
    assert [(p['text'], p['source']) for p in pairs] == [
        ('a grey square', 'web'),
        ('a lighter square', 'web'),
        ('from the filter', 'synthetic'),
    ]
    assert pairs[1]['img'][0, 0].tolist() == [20, 20, 20]
    synthetic = ImageTextCorpus(
        'corpus.json', data_root=str(tmp_path), image_root='images', sources=['synthetic']
    )
    assert [p['text'] for p in synthetic] == ['from the filter']


def test_bad_data_is_read_to_the_end_skipped_and_counted_in_the_log(tmp_path):
    write_shards(tmp_path, 1, per_shard=4)
    with ShardWriter(tmp_path / '00001.tar') as writer:
        writer.write('corrupt', b'not an image at all', image_ext='jpg', texts=[{'text': 'corrupt'}])
        writer.write('good', png(99), image_ext='png', texts=[{'text': 'good after corrupt'}])
    truncated = tmp_path / '00002.tar'
    with ShardWriter(truncated) as writer:
        writer.write('kept', png(50), image_ext='png', texts=[{'text': 'before the cut'}])
        writer.write('lost', bytes(range(256)) * 40, image_ext='png', texts=[{'text': 'after the cut'}])
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) // 2 + 2000])
    assert tarfile.is_tarfile(truncated)
    log_file = tmp_path / 'run.log'
    MMLogger.get_instance('corpus-test', log_file=str(log_file))
    # An epoch is the 8 pairs the shards' statistics count (2 of them unreadable):
    # the 6 readable ones, then the reader starts its shards again.
    dataset = ImageTextCorpus(['0000{0..3}.tar'], data_root=str(tmp_path), shuffle=False, seed=0)
    assert dataset.num_pairs == 8
    texts = [pair['text'] for pair in dataset]
    good = [f's0 k{k} t0' for k in range(4)] + ['good after corrupt', 'before the cut']
    assert texts == good + good[:2]
    log = log_file.read_text()
    assert 'ReadError' in log and 'FileNotFoundError' in log and 'cannot decode image' in log
    summary = [line for line in log.splitlines() if '8 pairs; skipped' in line]
    assert summary and summary[0].endswith('bad shard: 2, corrupt image: 1'), log
    assert dataset.collect_counts() == {0: Counter({'pairs': 8, 'bad shard': 2, 'corrupt image': 1})}


def test_unreadable_shards_stop_the_run_with_an_error(tmp_path):
    dataset = ImageTextCorpus(['a.tar', 'b.tar'], data_root=str(tmp_path), num_pairs=4)
    with pytest.raises(RuntimeError, match='no readable image-text pair'):
        list(dataset)


def test_shard_patterns(tmp_path):
    for name in ('a1.json', 'a2.json', 'b.tar'):
        (tmp_path / name).write_text('[]')
    assert expand_shards(['x/{008..010}.tar', '*.json'], tmp_path) == [
        str(tmp_path / 'x/008.tar'),
        str(tmp_path / 'x/009.tar'),
        str(tmp_path / 'x/010.tar'),
        str(tmp_path / 'a1.json'),
        str(tmp_path / 'a2.json'),
    ]
    assert Counter(expand_shards('{0..1}{0..1}', '')) == Counter(['00', '01', '10', '11'])
