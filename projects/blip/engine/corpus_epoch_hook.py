"""Tell a streamed training corpus which epoch begins; log what it skipped in the epoch."""

import logging

from mmengine.dist import all_gather_object, get_world_size, is_main_process
from mmengine.hooks import Hook
from mmengine.logging import print_log

from blip.registry import HOOKS


@HOOKS.register_module()
class CorpusEpochHook(Hook):
    """Call the training dataset's ``set_epoch`` before every epoch, and log
    the counts of its readers in all processes after it.

    mmengine's ``DistSamplerSeedHook`` tells the sampler; a streamed dataset
    (:class:`~blip.datasets.ImageTextCorpus`) has none and orders its shards
    itself, from the epoch. A resumed run thus reads its epochs in the order
    of the uninterrupted run. After each epoch the first process logs the
    pairs read and the images, samples and shards skipped by every process's
    readers (``collect_counts``).
    """

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_loop.dataloader.dataset
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)

    def after_train_epoch(self, runner) -> None:
        dataset = runner.train_loop.dataloader.dataset
        if not hasattr(dataset, 'collect_counts'):
            return
        counts = dataset.collect_counts()
        parts = all_gather_object(counts) if get_world_size() > 1 else [counts]
        if not is_main_process():
            return
        for epoch in sorted({epoch for part in parts for epoch in part}):
            total = {}
            for part in parts:
                for kind, number in part.get(epoch, {}).items():
                    total[kind] = total.get(kind, 0) + number
            pairs = total.pop('pairs', 0)
            skipped = ', '.join(f'{kind}: {n}' for kind, n in sorted(total.items())) or 'none'
            print_log(
                f'{type(dataset).__name__} epoch {epoch}, all {len(parts)} processes: {pairs} pairs read; '
                f'skipped {skipped}',
                logger='current',
                level=logging.WARNING if total else logging.INFO,
            )
