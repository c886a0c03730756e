"""Tell a streamed training corpus which epoch begins."""

from mmengine.hooks import Hook

from blip.registry import HOOKS


@HOOKS.register_module()
class CorpusEpochHook(Hook):
    """Call the training dataset's ``set_epoch`` before every epoch.

    mmengine's ``DistSamplerSeedHook`` tells the sampler; a streamed dataset
    (:class:`~blip.datasets.ImageTextCorpus`) has none and orders its shards
    itself, from the epoch. A resumed run thus reads its epochs in the order
    of the uninterrupted run.
    """

    priority = 'NORMAL'

    def before_train_epoch(self, runner) -> None:
        dataset = runner.train_loop.dataloader.dataset
        if hasattr(dataset, 'set_epoch'):
            dataset.set_epoch(runner.epoch)
