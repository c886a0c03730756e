"""A web-scale image-text corpus, streamed from its shards (see :mod:`.corpus_shards`)."""

import hashlib
import itertools
import logging
import math
import multiprocessing
import random
import re
import urllib.error
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import product
from pathlib import Path

from mmengine.dataset import Compose
from mmengine.dist import get_dist_info, sync_random_seed
from mmengine.logging import print_log
from torch.utils.data import IterableDataset, get_worker_info

from blip.registry import DATASETS, TRANSFORMS

from .corpus_shards import count_pairs, read_shard
from .image_loading import ImageLoadError, decode_image

#: Detailed warnings per reader and epoch before only the counts are logged.
MAX_DETAILED_WARNINGS = 20


def expand_shards(patterns: str | Sequence[str], root: str | Path = '') -> list[str]:
    """Shard paths of ``patterns`` below ``root``, in order.

    A pattern may hold WebDataset's brace ranges (``'{00000..00099}.tar'``,
    widths kept) and shell wildcards (``'*.json'``, sorted matches).
    """
    patterns = [patterns] if isinstance(patterns, str) else list(patterns)
    shards = []
    for pattern in patterns:
        for name in _expand_braces(pattern):
            path = Path(root) / name
            if any(c in name for c in '*?['):
                shards += sorted(str(p) for p in path.parent.glob(path.name))
            else:
                shards.append(str(path))
    return shards


def _expand_braces(pattern: str) -> list[str]:
    match = re.search(r'\{(\d+)\.\.(\d+)\}', pattern)
    if match is None:
        return [pattern]
    first, last = match.groups()
    width = len(first)
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [
        name
        for number in range(int(first), int(last) + 1)
        for name in _expand_braces(f'{head}{number:0{width}d}{tail}')
    ]


def stable_id(text: str) -> int:
    """A 63-bit integer id of ``text``, the same in every process and run."""
    return int.from_bytes(hashlib.blake2b(text.encode('utf-8'), digest_size=8).digest(), 'big') >> 1


@DATASETS.register_module()
class ImageTextCorpus(IterableDataset):
    """Image-text pairs streamed from WebDataset tars or the authors' JSON files.

    Every text of every image is one pair (a training sample of
    :class:`~blip.models.BlipPretrain`): ``text``, the decoded image ``img``
    (BGR, as ``LoadImageFromFile`` gives it; pipelines start after loading),
    ``image_id`` (one id per image: texts of the same image are positives of
    each other) and ``source`` (``'web'`` or ``'synthetic'``).

    **Splitting.** The shards are divided among all data-loader workers of
    all processes, none read twice: each reader (process x worker) takes
    every ``R``-th shard of the epoch's order. With fewer shards than readers
    each shard is split into parts (sample ``i`` goes to part ``i % parts``).

    **Epochs.** An epoch is ``num_pairs`` pairs over all processes. Every
    reader yields the same number of pairs in every process, so every process
    runs the same number of iterations (as distributed training needs): a
    reader whose shards run out before its share starts them again, one whose
    shards hold more stops at its share. Each epoch reorders the shards
    (``set_epoch``, called by ``CorpusEpochHook``) and shuffles the pairs
    within a buffer of ``shuffle_buffer``, from ``seed``.

    **Bad data.** A corrupt or missing image, a sample without text, a
    missing or truncated shard: the pair (or the rest of the shard) is
    skipped, counted and logged, and the reader goes on. Each reader logs its
    counts at the end of its epoch, and ``CorpusEpochHook`` logs the counts of
    all processes after every epoch (the log of other processes than the
    first shows only errors). A reader none of whose shards gives a single
    pair stops the run with an error.

    Args:
        shards: Shard paths or patterns below ``data_root`` (``.tar``,
            ``.json``, ``.jsonl``); see :func:`expand_shards`.
        data_root: The corpus folder.
        image_root: Where the ``image`` paths of JSON entries are, below
            ``data_root`` (default: ``data_root`` itself).
        pipeline: Transforms of each pair (after decoding).
        num_pairs: Pairs per epoch over all processes; None: every pair of the
            shards once (counted from img2dataset's ``_stats.json`` files, or by
            reading the shards).
        sources: Use only texts of these sources (e.g. ``['web']``); None: all.
        shuffle: Reorder the shards each epoch and shuffle the pairs.
        shuffle_buffer: Pairs (encoded images and texts) held for shuffling, per reader.
        seed: Shuffling seed (None: one seed drawn and shared by all processes).
        url_timeout: Seconds to fetch an image given by a JSON entry's ``url``.
    """

    def __init__(
        self,
        shards: str | Sequence[str],
        data_root: str = '',
        image_root: str = '',
        pipeline: Sequence[dict] = (),
        num_pairs: int | None = None,
        sources: Sequence[str] | None = None,
        shuffle: bool = True,
        shuffle_buffer: int = 2000,
        seed: int | None = None,
        url_timeout: float = 10.0,
    ):
        self.data_root = data_root
        self.shards = expand_shards(shards, data_root)
        if not self.shards:
            raise FileNotFoundError(f'ImageTextCorpus: no shard matches {shards!r} below {data_root!r}')
        self.image_root = Path(data_root) / image_root
        self.pipeline = Compose([TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline])
        self.sources = None if sources is None else set(sources)
        self.shuffle = shuffle
        self.shuffle_buffer = shuffle_buffer
        self.seed = sync_random_seed() if seed is None else seed
        self.url_timeout = url_timeout
        self.rank, self.world_size = get_dist_info()
        if num_pairs is None:
            num_pairs = sum(count_pairs(s, self.sources) for s in self.shards if Path(s).is_file())
            print_log(f'ImageTextCorpus: {num_pairs} pairs in {len(self.shards)} shards', logger='current')
        if num_pairs < self.world_size:
            raise ValueError(f'ImageTextCorpus: {num_pairs} pairs for {self.world_size} processes')
        self.num_pairs = num_pairs
        self.epoch = 0
        self._passes_since_set = 0
        # Each reader's counts at the end of its epoch, for collect_counts() in
        # the main process (the workers inherit the queue).
        self._counts_queue = multiprocessing.SimpleQueue()

    @property
    def metainfo(self) -> dict:
        return {}

    def __len__(self) -> int:
        """Pairs per epoch of this process."""
        return self.num_pairs // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose shard order and shuffling the next iteration follows."""
        self.epoch = epoch
        self._passes_since_set = 0

    # Splitting ------------------------------------------------------------------------

    def readers(self) -> tuple[int, int, int]:
        """``(this reader's index, readers in all, workers per process)``."""
        worker = get_worker_info()
        worker_id, num_workers = (0, 1) if worker is None else (worker.id, worker.num_workers)
        return self.rank * num_workers + worker_id, self.world_size * num_workers, num_workers

    def units(self, epoch: int) -> list[tuple[str, int, int]]:
        """``(shard, part, parts)`` of the whole corpus in ``epoch``'s order."""
        _, num_readers, _ = self.readers()
        parts = max(1, math.ceil(num_readers / len(self.shards)))
        units = [(shard, part, parts) for shard, part in product(self.shards, range(parts))]
        if self.shuffle:
            random.Random(f'{self.seed}-{epoch}').shuffle(units)
        return units

    def share(self) -> int:
        """Pairs this reader yields per epoch (the same for its index in every process)."""
        reader, _, num_workers = self.readers()
        worker_id = reader % num_workers
        per_process = len(self)
        return per_process // num_workers + (1 if worker_id < per_process % num_workers else 0)

    # Reading --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[dict]:
        # Persistent workers keep their copy: count the epochs since set_epoch.
        epoch = self.epoch + self._passes_since_set
        self._passes_since_set += 1
        reader, num_readers, _ = self.readers()
        counts = Counter()
        log = _ReaderLog(f'ImageTextCorpus [rank {self.rank}, reader {reader}/{num_readers}, epoch {epoch}]')
        share = self.share()
        yielded = 0
        if share:
            for pair in self._stream(epoch, reader, num_readers, counts, log):
                result = self._load(pair, counts, log)
                if result is not None:
                    yielded += 1
                    yield result
                    if yielded == share:
                        break
        log.summary(yielded, counts)
        self._counts_queue.put((epoch, dict(counts, pairs=yielded)))

    def collect_counts(self) -> dict[int, Counter]:
        """The counts the readers of this process reported since the last call,
        per epoch: ``pairs`` read and each kind of data skipped."""
        epochs = {}
        while not self._counts_queue.empty():
            epoch, counts = self._counts_queue.get()
            epochs.setdefault(epoch, Counter()).update(counts)
        return epochs

    def _stream(self, epoch, reader, num_readers, counts, log):
        """``(sample, text, shard)`` of this reader's units, each pass over them shuffled."""
        for repeat in itertools.count():
            units = self.units(epoch)[reader::num_readers]
            if repeat and self.shuffle:
                random.Random(f'{self.seed}-{epoch}-{reader}-{repeat}').shuffle(units)
            if repeat:
                log.info(f'its shards are read again (pass {repeat + 1}) to fill its share of the epoch')
            found = Counter()
            rng = random.Random(f'{self.seed}-{epoch}-{reader}-{repeat}')
            yield from self._shuffled(self._pass(units, counts, log, found), rng)
            if not found['pairs']:
                raise RuntimeError(
                    f'ImageTextCorpus: no readable image-text pair in the shards of reader {reader} '
                    f'({[unit[0] for unit in units]}); see the warnings above'
                )

    def _pass(self, units, counts: Counter, log: '_ReaderLog', found: Counter):
        for shard, part, parts in units:

            def on_error(kind, where, message):
                counts[f'bad {kind}'] += 1
                log.warn(f'skipped {"the rest of " if kind == "shard" else ""}{where}: {message}', counts)

            for index, sample in enumerate(read_shard(shard, on_error)):
                if index % parts != part:
                    continue
                for text in sample.texts:
                    if self.sources is None or text.get('source', 'web') in self.sources:
                        found['pairs'] += 1
                        yield sample, text, shard

    def _shuffled(self, pairs, rng: random.Random):
        if not self.shuffle or self.shuffle_buffer <= 1:
            yield from pairs
            return
        buffer = []
        for pair in pairs:
            if len(buffer) < self.shuffle_buffer:
                buffer.append(pair)
                continue
            index = rng.randrange(len(buffer))
            buffer[index], pair = pair, buffer[index]
            yield pair
        rng.shuffle(buffer)
        yield from buffer

    def _load(self, pair, counts: Counter, log: '_ReaderLog') -> dict | None:
        sample, text, shard = pair
        where = f'{shard}:{sample.key}'
        try:
            image = decode_image(sample.image_bytes(self.image_root, self.url_timeout), where)
        except (FileNotFoundError, urllib.error.URLError, TimeoutError) as error:
            counts['missing image'] += 1
            log.warn(f'skipped {where}: missing image ({error})', counts)
            return None
        except (ImageLoadError, OSError, ValueError) as error:
            counts['corrupt image'] += 1
            log.warn(f'skipped {where}: {error}', counts)
            return None
        locator = sample.image_path or sample.url or f'{Path(shard).name}/{sample.key}'
        results = dict(
            img=image,
            img_shape=image.shape[:2],
            ori_shape=image.shape[:2],
            text=text['text'],
            source=text.get('source', 'web'),
            image_id=stable_id(locator),
        )
        try:
            return self.pipeline(results)
        except Exception as error:  # a transform failing on one pair must not end the run
            counts['failed transform'] += 1
            log.warn(f'skipped {where}: the pipeline failed ({type(error).__name__}: {error})', counts)
            return None


class _ReaderLog:
    """Warnings of one reader's epoch: the first ones in detail, then only counts."""

    def __init__(self, name: str):
        self.name = name
        self.warnings = 0

    def info(self, message: str) -> None:
        print_log(f'{self.name}: {message}', logger='current')

    def warn(self, message: str, counts: Counter) -> None:
        self.warnings += 1
        if self.warnings <= MAX_DETAILED_WARNINGS:
            more = ' (further ones only counted)' if self.warnings == MAX_DETAILED_WARNINGS else ''
            print_log(f'{self.name}: {message}{more}', logger='current', level=logging.WARNING)

    def summary(self, yielded: int, counts: Counter) -> None:
        skipped = ', '.join(f'{kind}: {n}' for kind, n in sorted(counts.items())) or 'none'
        level = logging.WARNING if counts else logging.INFO
        print_log(f'{self.name}: {yielded} pairs; skipped {skipped}', logger='current', level=level)
