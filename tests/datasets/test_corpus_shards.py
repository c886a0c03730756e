"""The corpus shard formats: img2dataset's WebDataset tars and the authors' JSON files."""

import io
import json
import tarfile

import pytest

from blip.datasets.corpus_shards import (
    ShardWriter,
    count_pairs,
    iter_json_entries,
    read_json_shard,
    read_shard,
    read_tar_shard,
    tar_stats_path,
)


def img2dataset_tar(path, samples):
    """A tar as img2dataset writes it: ``<key>.jpg``, ``<key>.txt``, ``<key>.json`` per sample."""
    with tarfile.open(path, 'w') as tar:
        for key, image, caption in samples:
            meta = json.dumps({'url': f'https://example.org/{key}.jpg', 'caption': caption, 'key': key})
            for extension, content in (('jpg', image), ('txt', caption.encode()), ('json', meta.encode())):
                info = tarfile.TarInfo(f'{key}.{extension}')
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    tar_stats_path(path).write_text(json.dumps({'successes': len(samples), 'failed_to_download': 3}))
    return path


def test_an_img2dataset_tar_reads_as_samples(tmp_path):
    path = img2dataset_tar(
        tmp_path / '00000.tar', [('000000000', b'a', 'a dog'), ('000000001', b'b', 'a cat')]
    )
    samples = list(read_tar_shard(path))
    assert [(s.key, s.image, s.texts) for s in samples] == [
        ('000000000', b'a', [{'text': 'a dog', 'source': 'web'}]),
        ('000000001', b'b', [{'text': 'a cat', 'source': 'web'}]),
    ]
    assert samples[0].url == 'https://example.org/000000000.jpg'
    assert count_pairs(path) == 2  # from the _stats.json


def test_shard_writer_round_trip_with_several_texts(tmp_path):
    texts = [
        {'text': 'a dog', 'source': 'web', 'itm_score': 0.9},
        {'text': 'a brown dog', 'source': 'synthetic'},
    ]
    with ShardWriter(tmp_path / 'out.tar') as writer:
        writer.write('k0', b'jpeg', texts=texts, url='https://example.org/0.jpg')
        writer.write('k1', b'png', image_ext='png', texts=texts[:1], image='images/1.png')
    assert not (tmp_path / 'out.tar.partial').exists()
    samples = list(read_shard(tmp_path / 'out.tar'))
    assert samples[0].texts == texts and samples[0].url == 'https://example.org/0.jpg'
    assert samples[1].image == b'png' and samples[1].image_path == 'images/1.png'
    stats = json.loads(tar_stats_path(tmp_path / 'out.tar').read_text())
    assert stats == {'successes': 2, 'pairs_by_source': {'synthetic': 1, 'web': 2}}
    assert count_pairs(tmp_path / 'out.tar') == 3 and count_pairs(tmp_path / 'out.tar', ['synthetic']) == 1


def test_a_failed_writer_leaves_no_shard(tmp_path):
    with pytest.raises(RuntimeError), ShardWriter(tmp_path / 'out.tar') as writer:
        writer.write('k0', b'x', texts=[{'text': 't', 'source': 'web'}])
        raise RuntimeError('killed')
    assert list(tmp_path.iterdir()) == []


def test_bad_samples_and_a_truncated_tar_are_reported_and_skipped(tmp_path):
    path = tmp_path / 'bad.tar'
    with tarfile.open(path, 'w') as tar:
        for name, content in [
            ('0.jpg', b'x'),  # no text
            ('1.txt', b'only text'),  # no image
            ('2.jpg', b'y'),
            ('2.txt', b'\xff\xfe not utf-8'),
            ('3.jpg', b'z' * 4000),
            ('3.txt', b'fine'),
            ('4.jpg', b'w' * 4000),
            ('4.txt', b'lost'),
        ]:
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    data = path.read_bytes()
    path.write_bytes(data[: data.index(b'w' * 100) + 1000])  # cut inside sample 4's image
    errors = []
    samples = list(read_tar_shard(path, lambda *error: errors.append(error)))
    assert [s.key for s in samples] == ['3']
    kinds = [(kind, where.rsplit(':', 1)[-1]) for kind, where, _ in errors]
    assert kinds == [
        ('sample', '0'),
        ('sample', '1'),
        ('sample', '2'),
        ('shard', str(path).rsplit(':', 1)[-1]),
    ]
    assert 'read up to sample 4' in errors[-1][2]


def test_a_missing_shard_is_reported(tmp_path):
    errors = []
    assert list(read_shard(tmp_path / 'nowhere.tar', lambda *e: errors.append(e))) == []
    assert errors[0][0] == 'shard' and 'FileNotFoundError' in errors[0][2]


def test_json_lists_are_streamed_in_chunks(tmp_path):
    entries = [{'image': f'images/{i}.jpg', 'caption': f'caption {i} ' + 'x' * (i % 7)} for i in range(50)]
    path = tmp_path / 'corpus.json'
    path.write_text(json.dumps(entries, indent=1))
    assert list(iter_json_entries(path, chunk_size=16)) == entries
    lines = tmp_path / 'corpus.jsonl'
    lines.write_text('\n'.join(json.dumps(e) for e in entries) + '\n')
    assert list(iter_json_entries(lines, chunk_size=7)) == entries


def test_json_entries_of_one_image_are_one_sample(tmp_path):
    path = tmp_path / 'corpus.json'
    entries = [
        {'image': 'a.jpg', 'caption': 'one'},
        {'image': 'a.jpg', 'caption': 'two', 'source': 'synthetic', 'itm_score': 0.8},
        {'url': 'https://example.org/b.jpg', 'caption': ['three', 'four']},
        {'caption': 'no image'},
    ]
    path.write_text(json.dumps(entries))
    errors = []
    samples = list(read_json_shard(path, lambda *e: errors.append(e)))
    assert [(s.image_path, s.url) for s in samples] == [('a.jpg', None), (None, 'https://example.org/b.jpg')]
    assert samples[0].texts == [
        {'text': 'one', 'source': 'web'},
        {'text': 'two', 'source': 'synthetic', 'itm_score': 0.8},
    ]
    assert [t['text'] for t in samples[1].texts] == ['three', 'four']
    assert [e[0] for e in errors] == ['sample']
    assert count_pairs(path) == 4 and count_pairs(path, ['synthetic']) == 1


def test_a_truncated_json_file_gives_what_it_holds(tmp_path):
    path = tmp_path / 'corpus.json'
    text = json.dumps([{'image': f'{i}.jpg', 'caption': 'c'} for i in range(5)])
    path.write_text(text[: text.index('3.jpg')])
    errors = []
    samples = list(read_json_shard(path, lambda *e: errors.append(e)))
    assert [s.image_path for s in samples] == ['0.jpg', '1.jpg', '2.jpg']
    assert [e[0] for e in errors] == ['shard'] and 'read up to entry 2' in errors[0][2]
