"""Bootstrap a corpus with BLIP's CapFilt.

    python tools/capfilt.py CORPUS... OUT --captioner CONFIG CKPT --filter CONFIG CKPT

CORPUS: shards below ``--data-root``: WebDataset tars as img2dataset writes
them and/or the authors' JSON files (patterns as ``ImageTextCorpus`` reads
them, e.g. ``'shards/{00000..00099}.tar'`` or ``'annotations/*.json'``). For
every image the captioner samples ``--num-captions`` captions (nucleus
sampling, ``--top-p``) and the filter scores the image's web texts and
synthetic captions with its ITM head; a text is kept when its match
probability reaches ``--threshold``.

OUT receives the bootstrapped corpus:

* ``bootstrapped.json``: the authors' format, one entry per kept text,
  ``{'image' (path below the input's image root) or 'url', 'caption',
  'source': 'web' | 'synthetic', 'itm_score', 'shard', 'key', ...}``;
* ``shards/<unit>.tar``: WebDataset shards, one sample per image with a kept
  text (the image, its first text, and a JSON with all its kept ``texts``);
* ``scores/<unit>.jsonl``: every text scored, kept or not (for analysis);
* ``summary.json``: images, and texts kept per source.

Work is split into units (a tar shard, or ``--shard-size`` images of a JSON
file). Several processes (``--launcher pytorch`` with torchrun, or
independent jobs with ``--rank R --world-size W``) each take every W-th unit;
the last to finish merges the outputs (``--merge-only`` merges). A unit's
captions are sampled from a seed of its own, so the corpus does not depend on
the number of processes. A finished unit is never redone: a run killed and
started again continues with the units not finished.
"""

import argparse
import json
import os
import time
from collections import Counter
from pathlib import Path

import torch

SUMMARY_KEYS = ('images', 'images_kept', 'images_skipped')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Bootstrap a corpus with CapFilt (captioner + filter)')
    parser.add_argument('corpus', nargs='+', help='shard paths or patterns below --data-root (.tar, .json)')
    parser.add_argument('out', help='output folder')
    parser.add_argument('--data-root', default='', help='the corpus folder')
    parser.add_argument(
        '--image-root', default='', help="where JSON entries' image paths are, below --data-root"
    )
    parser.add_argument('--captioner', nargs=2, required=True, metavar=('CONFIG', 'CHECKPOINT'))
    parser.add_argument('--filter', nargs=2, required=True, metavar=('CONFIG', 'CHECKPOINT'))
    parser.add_argument('--num-captions', type=int, default=1, help='synthetic captions per image')
    parser.add_argument('--top-p', type=float, default=0.9, help='nucleus sampling')
    parser.add_argument('--top-k', type=int, default=50, help='sample among at most this many words (0: all)')
    parser.add_argument('--repetition-penalty', type=float, default=1.1)
    parser.add_argument('--max-length', type=int, help="longest caption, the captioner's prompt included")
    parser.add_argument('--min-length', type=int, help="shortest caption, the captioner's prompt included")
    parser.add_argument('--threshold', type=float, default=0.5, help="the filter's match probability to keep")
    parser.add_argument('--batch-size', type=int, default=32, help='images per batch')
    parser.add_argument('--shard-size', type=int, default=1000, help='images per unit of a JSON file')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device', help='cpu, cuda, cuda:1 ... (default: the local GPU, else cpu)')
    parser.add_argument('--precision', default='float32', choices=['float32', 'bfloat16', 'float16'])
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--rank', type=int, default=0, help='this process, among --world-size')
    parser.add_argument('--world-size', type=int, default=1, help='processes sharing the work')
    parser.add_argument('--merge-only', action='store_true', help='only merge the finished units')
    parser.add_argument('--log-interval', type=int, default=10, help='batches between progress lines')
    return parser.parse_args(argv)


# Units -------------------------------------------------------------------------------


def work_units(shards: list[str], shard_size: int) -> list[tuple[str, str, int | None]]:
    """``(name, shard, chunk)``: a tar is one unit; a JSON file is cut into
    chunks of ``shard_size`` images."""
    from blip.datasets.corpus_shards import is_json_shard, read_shard

    units, names = [], Counter()
    for shard in shards:
        stem = Path(shard).name.split('.', 1)[0]
        names[stem] += 1
        if names[stem] > 1:
            raise ValueError(f'capfilt: two shards named {stem}; give shards distinct names')
        if is_json_shard(shard):
            count = sum(1 for _ in read_shard(shard))
            chunks = max(1, -(-count // shard_size))
            units += [(f'{stem}-{chunk:05d}', shard, chunk) for chunk in range(chunks)]
        else:
            units.append((stem, shard, None))
    return units


def unit_samples(shard: str, chunk: int | None, shard_size: int, on_error):
    from blip.datasets.corpus_shards import read_shard

    for index, sample in enumerate(read_shard(shard, on_error)):
        if chunk is None or chunk * shard_size <= index < (chunk + 1) * shard_size:
            yield sample
        elif index >= (chunk + 1) * shard_size:
            return


# Writing -----------------------------------------------------------------------------


def write_atomically(path: Path, text: str) -> None:
    partial = path.with_name(path.name + '.partial')
    partial.write_text(text, encoding='utf-8')
    partial.replace(path)


def part_path(out: Path, unit: str) -> Path:
    return out / 'parts' / f'{unit}.json'


def entry_of(sample, record: dict, unit: str) -> dict:
    """The authors' format entry of a kept text (its image's path or URL, the caption, and more)."""
    entry = {}
    if sample.image_path:
        entry['image'] = sample.image_path
    if sample.url:
        entry['url'] = sample.url
    entry['caption'] = record['text']
    entry.update({k: v for k, v in record.items() if k not in ('text', 'kept')})
    entry.update(shard=f'shards/{unit}.tar', key=sample.key)
    return entry


class UnitWriter:
    """The outputs of one unit: its shard, its scores, and last its part (the mark that it is done)."""

    def __init__(self, out: Path, unit: str):
        from blip.datasets.corpus_shards import ShardWriter

        self.out, self.unit = out, unit
        self.shard = ShardWriter(out / 'shards' / f'{unit}.tar')
        self.entries, self.scores = [], []
        self.counts = Counter()

    def add(self, sample, image: bytes, records: list[dict]) -> None:
        kept = [{k: v for k, v in r.items() if k != 'kept'} for r in records if r['kept']]
        self.counts['images'] += 1
        for record in records:
            source = record['source']
            self.counts[f'{source}_texts'] += 1
            self.counts[f'{source}_kept'] += int(record['kept'])
            self.scores.append(dict(key=sample.key, **record))
        if kept:
            self.counts['images_kept'] += 1
            meta = {k: v for k, v in (('image', sample.image_path), ('url', sample.url)) if v}
            self.shard.write(sample.key, image, sample.image_ext, texts=kept, **meta)
            self.entries += [entry_of(sample, r, self.unit) for r in records if r['kept']]

    def close(self) -> dict:
        self.shard.close()
        scores = self.out / 'scores' / f'{self.unit}.jsonl'
        scores.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(scores, ''.join(json.dumps(s, sort_keys=True) + '\n' for s in self.scores))
        summary = dict(sorted(self.counts.items()))
        part = part_path(self.out, self.unit)
        part.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(part, json.dumps({'unit': self.unit, 'summary': summary, 'entries': self.entries}))
        return summary


# Running -----------------------------------------------------------------------------


def build_capfilt(args, device: str):
    from blip.apis import CapFilt, get_model

    captioner = get_model(args.captioner[0], pretrained=args.captioner[1], device=device)
    filter = get_model(args.filter[0], pretrained=args.filter[1], device=device)
    captioner.precision = filter.precision = args.precision
    return CapFilt(
        captioner,
        filter,
        num_captions=args.num_captions,
        top_p=args.top_p,
        top_k=args.top_k,
        repetition_penalty=args.repetition_penalty,
        max_length=args.max_length,
        min_length=args.min_length,
        threshold=args.threshold,
    )


def run_unit(capfilt, args, out: Path, unit: tuple, progress) -> dict:
    """CapFilt of one unit, batch by batch, from the unit's own seed."""
    from blip.datasets.image_loading import ImageLoadError, decode_image
    from blip.datasets.image_text_corpus import stable_id

    name, shard, chunk = unit
    torch.manual_seed(stable_id(f'{args.seed}/{name}'))
    writer = UnitWriter(out, name)
    image_root = Path(args.data_root) / args.image_root

    def on_error(kind, where, message):
        writer.counts[f'{kind}s_skipped'] += 1
        progress.warn(f'skipped {where}: {message}')

    batch = []

    def flush():
        records = capfilt([image for _, _, image in batch], [sample.texts for sample, _, _ in batch])
        for (sample, content, _), own in zip(batch, records, strict=True):
            writer.add(sample, content, own)
        progress.batch(name, len(batch), writer.counts)
        batch.clear()

    for sample in unit_samples(shard, chunk, args.shard_size, on_error):
        try:
            content = sample.image_bytes(image_root)
            image = decode_image(content, f'{shard}:{sample.key}')
        except (ImageLoadError, OSError, ValueError) as error:
            writer.counts['images_skipped'] += 1
            progress.warn(f'skipped {shard}:{sample.key}: {error}')
            continue
        batch.append((sample, content, image))
        if len(batch) == args.batch_size:
            flush()
    if batch:
        flush()
    return writer.close()


class Progress:
    """Progress lines while the units run, and each unit's summary."""

    def __init__(self, rank: int, interval: int):
        self.rank, self.interval = rank, interval
        self.start, self.images, self.batches = time.time(), 0, 0

    def _print(self, message: str) -> None:
        print(f'[capfilt {time.strftime("%H:%M:%S")} rank {self.rank}] {message}', flush=True)

    def warn(self, message: str) -> None:
        self._print(f'WARNING {message}')

    def batch(self, unit: str, images: int, counts: Counter) -> None:
        self.images += images
        self.batches += 1
        if self.batches % self.interval == 0:
            rate = self.images / max(time.time() - self.start, 1e-9)
            self._print(f'unit {unit}: {counts["images"]} images; {self.images} in all, {rate:.1f} images/s')

    def unit_done(self, unit: str, summary: dict, index: int, total: int) -> None:
        self._print(f'unit {unit} done ({index}/{total} of this process): {describe(summary)}')


def describe(summary: dict) -> str:
    parts = [f'{summary.get("images", 0)} images ({summary.get("images_kept", 0)} with a kept text)']
    for source in ('web', 'synthetic'):
        texts = summary.get(f'{source}_texts', 0)
        parts.append(f'{source} texts kept {summary.get(f"{source}_kept", 0)}/{texts}')
    skipped = {k: v for k, v in summary.items() if k.endswith('_skipped') and v}
    if skipped:
        parts.append(
            'skipped ' + ', '.join(f'{k[: -len("_skipped")]}: {v}' for k, v in sorted(skipped.items()))
        )
    return '; '.join(parts)


def merge(out: Path, units: list[tuple]) -> dict | None:
    """Merge the finished units' parts into the corpus files; None while a unit is unfinished."""
    parts = [part_path(out, name) for name, _, _ in units]
    if not all(p.is_file() for p in parts):
        return None
    total = Counter()
    partial = out / 'bootstrapped.json.partial'
    with open(partial, 'w', encoding='utf-8') as f:
        f.write('[')
        first = True
        for path in parts:
            part = json.loads(path.read_text(encoding='utf-8'))
            total.update(part['summary'])
            for entry in part['entries']:
                f.write(('' if first else ',\n') + json.dumps(entry, sort_keys=True))
                first = False
        f.write(']\n')
    partial.replace(out / 'bootstrapped.json')
    summary = dict(sorted(total.items()), units=len(units))
    write_atomically(out / 'summary.json', json.dumps(summary, indent=1) + '\n')
    return summary


def main(argv=None):
    args = parse_args(argv)
    import blip  # noqa: F401  (registries)
    from blip.datasets.image_text_corpus import expand_shards

    if args.launcher == 'pytorch':
        args.rank, args.world_size = int(os.environ['RANK']), int(os.environ['WORLD_SIZE'])
        backend = 'nccl' if torch.cuda.is_available() else 'gloo'
        torch.distributed.init_process_group(backend)
    if not 0 <= args.rank < args.world_size:
        raise ValueError(f'capfilt: --rank {args.rank} is not below --world-size {args.world_size}')
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shards = expand_shards(args.corpus, args.data_root)
    units = work_units(shards, args.shard_size)
    progress = Progress(args.rank, args.log_interval)
    if not args.merge_only:
        mine = [unit for i, unit in enumerate(units) if i % args.world_size == args.rank]
        todo = [unit for unit in mine if not part_path(out, unit[0]).is_file()]
        progress._print(
            f'{len(units)} units in all; {len(mine)} for this process, {len(mine) - len(todo)} already done'
        )
        if todo:
            local_rank = int(os.environ.get('LOCAL_RANK', 0))
            device = args.device or (f'cuda:{local_rank}' if torch.cuda.is_available() else 'cpu')
            capfilt = build_capfilt(args, device)
            for index, unit in enumerate(todo, start=1):
                summary = run_unit(capfilt, args, out, unit, progress)
                progress.unit_done(unit[0], summary, index, len(todo))
    if args.launcher == 'pytorch':
        torch.distributed.barrier()
        summary = merge(out, units) if args.rank == 0 else None
        torch.distributed.destroy_process_group()
    else:
        summary = merge(out, units)
    if summary is not None:
        progress._print(f'corpus written to {out}: {describe(summary)}')
    elif args.launcher != 'pytorch' or args.rank == 0:
        progress._print(
            'other processes still have units to finish; the last one merges (or run --merge-only)'
        )
    return summary


if __name__ == '__main__':
    main()
