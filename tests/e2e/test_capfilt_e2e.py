"""tools/capfilt.py on the shapes web corpus: the bootstrapped corpus does not depend on
the number of processes, nor on a run being killed and started again."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from blip.datasets import ImageTextCorpus, read_shard

REPO = Path(__file__).resolve().parents[2]
CAPTIONER = ['configs/blip/blip-tiny_shapes_caption.py', 'checkpoints/blip-tiny_shapes_caption-7ad54e8c.pth']
FILTER_CONFIG = 'configs/blip/blip-tiny_shapes_retrieval.py'


@pytest.fixture(scope='module')
def web_root(tmp_path_factory):
    """96 web images in 4 shards of 24 (4 units of work)."""
    from blip.cli.generate_shapes import generate

    return generate(tmp_path_factory.mktemp('web'), train=4, val=2, test=2, web=96, web_shard_size=24)


@pytest.fixture(scope='module')
def filter_checkpoint(web_root, tmp_path_factory):
    """A tiny retrieval model's random weights, its ITM head rescaled so that the
    match probabilities of the web texts spread around 0.5: a filter that keeps
    about half the texts (a random model's own scores hardly differ)."""
    from blip.apis import CapFilt, get_model
    from blip.datasets.image_loading import decode_image

    torch.manual_seed(0)
    model = get_model(FILTER_CONFIG)
    samples = [s for p in sorted((web_root / 'web/shards').glob('*.tar')) for s in read_shard(p)]
    capfilt = CapFilt(get_model(CAPTIONER[0]), model, num_captions=0)
    scores = torch.tensor(
        capfilt.match(
            [decode_image(s.image) for s in samples], [[t['text'] for t in s.texts] for s in samples]
        )
    ).flatten()
    logits = scores.logit().double()
    scale = 2 / logits.std()
    with torch.no_grad():
        model.itm_head.fc.weight.mul_(scale)
        model.itm_head.fc.bias.mul_(scale)
        model.itm_head.fc.bias[1] -= scale * logits.median()
    path = tmp_path_factory.mktemp('filter') / 'filter.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return path


def arguments(web_root, out, filter_checkpoint, *extra) -> list[str]:
    return [
        'web/shards/*.tar',
        str(out),
        '--data-root',
        str(web_root),
        '--captioner',
        *CAPTIONER,
        '--filter',
        FILTER_CONFIG,
        str(filter_checkpoint),
        '--num-captions',
        '2',
        '--max-length',
        '30',
        '--batch-size',
        '8',
        '--log-interval',
        '1',
        *extra,
    ]


def capfilt_process(args: list[str], log: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO / 'projects'), OMP_NUM_THREADS='1')
    with open(log, 'w') as f:
        return subprocess.Popen(
            [sys.executable, 'tools/capfilt.py', *args], cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env
        )


def run_here(args: list[str]) -> dict:
    """tools/capfilt.py in this process, with one thread as the subprocesses."""
    from blip.cli.capfilt import main

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return main(args)
    finally:
        torch.set_num_threads(threads)


def corpus_files(out: Path) -> dict[str, bytes]:
    """What a run writes, file by file (the parts are the bookkeeping of unfinished runs)."""
    return {
        str(p.relative_to(out)): p.read_bytes()
        for p in sorted(out.rglob('*'))
        if p.is_file() and 'parts' not in p.parts
    }


@pytest.fixture(scope='module')
def one_process(web_root, filter_checkpoint, tmp_path_factory):
    out = tmp_path_factory.mktemp('one')
    summary = run_here(arguments(web_root, out, filter_checkpoint))
    return out, summary


def test_the_bootstrapped_corpus(one_process, web_root):
    out, summary = one_process
    assert summary['images'] == 96 and summary['web_texts'] == 96 and summary['units'] == 4
    assert 0 < summary['web_kept'] < 96 and 0 < summary['synthetic_kept'] < summary['synthetic_texts']
    entries = json.loads((out / 'bootstrapped.json').read_text())
    assert len(entries) == summary['web_kept'] + summary['synthetic_kept']
    for entry in entries:
        assert entry['image'].startswith('images/web_') and entry['source'] in ('web', 'synthetic')
        assert entry['itm_score'] >= 0.5 and entry['caption']
    web = [e for e in entries if e['source'] == 'web']
    assert all(e['noise'] in ('clean', 'partly wrong', 'wholly wrong') for e in web)  # labels travel along
    scores = [json.loads(line) for p in sorted((out / 'scores').glob('*.jsonl')) for line in p.open()]
    assert len(scores) == summary['web_texts'] + summary['synthetic_texts']
    assert sum(s['kept'] for s in scores) == len(entries)
    # The shards and the JSON file give the same pairs, for pre-training.
    shards = [t for p in sorted((out / 'shards').glob('*.tar')) for s in read_shard(p) for t in s.texts]
    assert sorted(t['text'] for t in shards) == sorted(e['caption'] for e in entries)
    from_shards = ImageTextCorpus('shards/*.tar', data_root=str(out), shuffle=False)
    from_json = ImageTextCorpus('bootstrapped.json', data_root=str(out), image_root=str(web_root / 'web'))
    assert len(from_shards) == len(from_json) == len(entries)
    assert sorted(p['text'] for p in from_json) == sorted(p['text'] for p in from_shards)


def test_two_processes_give_the_same_corpus(one_process, web_root, filter_checkpoint, tmp_path):
    out = tmp_path / 'two'
    processes = [
        capfilt_process(
            arguments(web_root, out, filter_checkpoint, '--rank', str(rank), '--world-size', '2'),
            tmp_path / f'rank{rank}.log',
        )
        for rank in (0, 1)
    ]
    for rank, process in enumerate(processes):
        assert process.wait(timeout=600) == 0, (tmp_path / f'rank{rank}.log').read_text()[-3000:]
    logs = [(tmp_path / f'rank{rank}.log').read_text() for rank in (0, 1)]
    assert all('4 units in all; 2 for this process' in log for log in logs)
    assert sum('corpus written to' in log for log in logs) >= 1  # the last to finish merges
    assert corpus_files(out) == corpus_files(one_process[0])


def test_a_killed_run_started_again_gives_the_same_corpus(one_process, web_root, filter_checkpoint, tmp_path):
    out = tmp_path / 'killed'
    log = tmp_path / 'killed.log'
    process = capfilt_process(arguments(web_root, out, filter_checkpoint), log)
    deadline = time.time() + 600
    while not list((out / 'parts').glob('*.json')) and process.poll() is None:
        assert time.time() < deadline, 'no unit finished'
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(list((out / 'parts').glob('*.json')))
    assert 1 <= done < 4 and not (out / 'bootstrapped.json').exists(), log.read_text()[-3000:]

    summary = run_here(arguments(web_root, out, filter_checkpoint))
    assert summary == one_process[1]
    assert corpus_files(out) == corpus_files(one_process[0])
    assert not list(out.rglob('*.partial'))
