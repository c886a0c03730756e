"""Does bootstrapping help? BLIP's CapFilt story on the generated shapes benchmark.

    python tools/benchmark_bootstrap.py --seeds 0 1 2          # the table in docs/user_guides/bootstrap.md

The paper's Table 1 in miniature, on tiny models and CPU:

1. ``generate_shapes.py`` writes a small clean set (human-like captions, 3 per
   image), a test split, and a noisy web corpus whose alt-texts are right,
   partly wrong or wholly wrong, each labelled;
2. (a) pre-train a tiny BLIP on the clean set and the noisy web corpus;
3. fine-tune (a) on the clean set into a captioner (LM) and a filter (ITC +
   ITM): these are also (a)'s downstream models;
4. CapFilt the web corpus with them (``tools/capfilt.py``): the filter's
   precision and recall on the labelled noise;
5. (b) pre-train the same tiny BLIP, from scratch, on the clean set and the
   bootstrapped corpus (as many pairs per epoch, as many epochs);
6. fine-tune (b) the same way; test (a) and (b): text and image retrieval
   R@1 (TR@1, IR@1) and CIDEr on the test split.

Every run goes through the configs users run (``blip-tiny_shapes_pretrain.py``,
``blip-tiny_shapes_caption.py``, ``blip-tiny_shapes_retrieval.py``) and
mmengine's Runner; the data is the same for every seed (``--data-seed``),
the seed changes the training and the captions sampled. ``--sizes small``
is the version the test suite runs (tests/e2e/test_bootstrap_e2e.py).
"""

import argparse
import json
import time
from argparse import Namespace
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import _common  # noqa: F401  (makes `blip` importable from a clone)

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / 'configs/blip'
PRETRAIN = CONFIGS / 'blip-tiny_shapes_pretrain.py'
CAPTION = CONFIGS / 'blip-tiny_shapes_caption.py'
RETRIEVAL = CONFIGS / 'blip-tiny_shapes_retrieval.py'


@dataclass(frozen=True)
class Sizes:
    """The story's data and schedules."""

    clean: int = 100  # clean training images, 3 captions each
    web: int = 1000  # web images, one alt-text each
    test: int = 100
    web_noise: tuple[float, float] = (0.3, 0.3)  # partly / wholly wrong alt-texts
    pretrain_epochs: int = 4
    finetune_epochs: int = 4
    num_captions: int = 2  # CapFilt's synthetic captions per image
    threshold: float = 0.5


SIZES = {
    'full': Sizes(),
    'small': Sizes(clean=60, web=360, test=40, pretrain_epochs=3, finetune_epochs=3),
}


def generate_data(root: Path, sizes: Sizes, data_seed: int) -> Path:
    from blip.cli.generate_shapes import generate

    if not (root / 'web/web_corpus.json').is_file():
        generate(
            root,
            seed=data_seed,
            train=sizes.clean,
            val=2,
            test=sizes.test,
            web=sizes.web,
            web_noise=sizes.web_noise,
            web_shard_size=max(1, sizes.web // 4),
        )
    return root


def runner(config: Path, work_dir: Path, data_root: Path, options: dict):
    """An mmengine Runner of ``config`` as tools/train.py builds it, with ``options`` merged."""
    from mmengine.runner import Runner

    from blip.cli._common import load_config

    args = Namespace(
        config=str(config), cfg_options={'data_root': str(data_root)}, work_dir=str(work_dir), launcher='none'
    )
    cfg = load_config(args)
    cfg.merge_from_dict(options)
    cfg.log_level = 'WARNING'
    return Runner.from_cfg(cfg)


def train(config: Path, work_dir: Path, data_root: Path, epochs: int, seed: int, **options) -> Path:
    """Train ``config`` for ``epochs``; the last checkpoint."""
    options = {
        'train_cfg.max_epochs': epochs,
        'randomness.seed': seed,
        'default_hooks.checkpoint.interval': epochs,
        'default_hooks.logger.interval': 1000,
        **options,
    }
    runner(config, work_dir, data_root, options).train()
    return work_dir / f'epoch_{epochs}.pth'


def test(config: Path, checkpoint: Path, work_dir: Path, data_root: Path) -> dict:
    test_runner = runner(config, work_dir, data_root, {'load_from': str(checkpoint)})
    return test_runner.test()


def pretrain(root: Path, work_dir: Path, shards: list[str], num_pairs: int, sizes: Sizes, seed: int) -> Path:
    return train(
        PRETRAIN,
        work_dir,
        root,
        sizes.pretrain_epochs,
        seed,
        **{
            'train_dataloader.dataset.shards': shards,
            'train_dataloader.dataset.num_pairs': num_pairs,
            'train_dataloader.dataset.seed': seed,
            'param_scheduler.1.end': sizes.pretrain_epochs,
        },
    )


def finetune_and_test(pretrained: Path, root: Path, work_dir: Path, sizes: Sizes, seed: int) -> dict:
    """Fine-tune a pre-trained model into a captioner and a retrieval model on the
    clean set; their checkpoints and test metrics."""
    epochs = sizes.finetune_epochs
    common = dict(load_from=str(pretrained), **{'train_cfg.val_interval': epochs + 1})
    captioner = train(
        CAPTION, work_dir / 'caption', root, epochs, seed, **common, **{'param_scheduler.1.end': epochs}
    )
    retrieval = train(
        RETRIEVAL, work_dir / 'retrieval', root, epochs, seed, **common, **{'param_scheduler.1.end': epochs}
    )
    caption_metrics = test(CAPTION, captioner, work_dir / 'caption_test', root)
    retrieval_metrics = test(RETRIEVAL, retrieval, work_dir / 'retrieval_test', root)
    return dict(
        captioner=captioner,
        filter=retrieval,
        TR1=retrieval_metrics['i2t/R@1'],
        IR1=retrieval_metrics['t2i/R@1'],
        CIDEr=100 * caption_metrics['CIDEr'],
    )


def capfilt(root: Path, out: Path, captioner: Path, filter: Path, sizes: Sizes, seed: int) -> dict:
    from blip.cli.capfilt import main

    return main(
        [
            'web/shards/*.tar',
            str(out),
            '--data-root',
            str(root),
            '--captioner',
            str(CAPTION),
            str(captioner),
            '--filter',
            str(RETRIEVAL),
            str(filter),
            '--num-captions',
            str(sizes.num_captions),
            '--max-length',
            '30',
            '--threshold',
            str(sizes.threshold),
            '--seed',
            str(seed),
            '--log-interval',
            '1000',
        ]
    )


def filter_quality(out: Path) -> dict:
    """The filter on the web texts: precision and recall of "noisy" among the texts it removed."""
    removed = noisy = both = 0
    by_noise = {}
    for path in sorted((out / 'scores').glob('*.jsonl')):
        for line in path.open():
            record = json.loads(line)
            if record['source'] != 'web':
                continue
            is_noisy, is_removed = record['noise'] != 'clean', not record['kept']
            removed += is_removed
            noisy += is_noisy
            both += is_noisy and is_removed
            counts = by_noise.setdefault(record['noise'], [0, 0])
            counts[0] += is_removed
            counts[1] += 1
    return dict(
        precision=100 * both / max(removed, 1),
        recall=100 * both / max(noisy, 1),
        removed={noise: 100 * n / total for noise, (n, total) in sorted(by_noise.items())},
    )


def run_story(work: Path, sizes: Sizes, seed: int, data_seed: int = 0, log=print) -> dict:
    """The whole story for one seed; the row of the table."""
    start = time.time()
    root = generate_data(work / 'data', sizes, data_seed)
    run = work / f'seed{seed}'
    clean = 'annotations/coco_karpathy_train.json'
    num_pairs = 3 * sizes.clean + sizes.web

    pretrained_a = pretrain(root, run / 'pretrain_noisy', [clean, 'web/shards/*.tar'], num_pairs, sizes, seed)
    log(f'seed {seed}: (a) pre-trained on the noisy corpus ({time.time() - start:.0f} s)')
    noisy = finetune_and_test(pretrained_a, root, run / 'finetune_noisy', sizes, seed)
    log(f'seed {seed}: (a) fine-tuned and tested ({time.time() - start:.0f} s)')

    bootstrapped = run / 'capfilt'
    summary = capfilt(root, bootstrapped, noisy['captioner'], noisy['filter'], sizes, seed)
    quality = filter_quality(bootstrapped)
    log(f'seed {seed}: CapFilt ({time.time() - start:.0f} s): {json.dumps(summary)}')

    shards = [clean, str(bootstrapped / 'shards/*.tar')]
    pretrained_b = pretrain(root, run / 'pretrain_bootstrapped', shards, num_pairs, sizes, seed)
    clean_boot = finetune_and_test(pretrained_b, root, run / 'finetune_bootstrapped', sizes, seed)
    log(f'seed {seed}: (b) pre-trained, fine-tuned and tested ({time.time() - start:.0f} s)')
    metrics = ('TR1', 'IR1', 'CIDEr')
    return dict(
        seed=seed,
        filter=quality,
        capfilt=summary,
        noisy={k: noisy[k] for k in metrics},
        bootstrapped={k: clean_boot[k] for k in metrics},
        seconds=time.time() - start,
    )


def table(rows: list[dict]) -> str:
    """The rows in the shape of the paper's Table 1, with the filter's precision and recall."""
    lines = [
        '| seed | pre-training corpus | filter precision | filter recall | TR@1 | IR@1 | CIDEr |',
        '|---|---|---|---|---|---|---|',
    ]
    for row in rows:
        a, b, f = row['noisy'], row['bootstrapped'], row['filter']
        lines.append(
            f'| {row["seed"]} | (a) clean + noisy web | – | – | '
            f'{a["TR1"]:.1f} | {a["IR1"]:.1f} | {a["CIDEr"]:.1f} |'
        )
        lines.append(
            f'| {row["seed"]} | (b) clean + bootstrapped (C+F) | {f["precision"]:.1f} | {f["recall"]:.1f} | '
            f'{b["TR1"]:.1f} | {b["IR1"]:.1f} | {b["CIDEr"]:.1f} |'
        )
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='BLIP bootstrapping (CapFilt) on the shapes benchmark')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2], help='training seeds')
    parser.add_argument('--sizes', choices=sorted(SIZES), default='full')
    parser.add_argument('--data-seed', type=int, default=0, help='seed of the generated data (all seeds)')
    parser.add_argument('--work-dir', default='work_dirs/benchmark_bootstrap')
    parser.add_argument('--threads', type=int, help='CPU threads (torch.set_num_threads)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = SIZES[args.sizes]
    work = Path(args.work_dir)
    rows = []
    for seed in args.seeds:
        rows.append(run_story(work, sizes, seed, args.data_seed))
        (work / 'results.json').write_text(json.dumps(dict(sizes=asdict(sizes), rows=rows), indent=1))
    print(f'\nsizes: {asdict(replace(sizes))}')
    for row in rows:
        removed = ', '.join(f'{k} {v:.0f}%' for k, v in row['filter']['removed'].items())
        print(f'seed {row["seed"]}: web texts removed by the filter: {removed}; {row["seconds"]:.0f} s')
    print(table(rows))
    return rows


if __name__ == '__main__':
    main()
