"""Warm up a model attribute that no optimizer schedules (e.g. the ITC distillation weight)."""

import operator

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from blip.registry import HOOKS


@HOOKS.register_module()
class WarmupParamHook(Hook):
    """Raise ``<module>.<param_name>`` linearly from 0 to its configured value.

    Before each training iteration the attribute is set to ``value * min(1,
    iteration / (warmup_epochs * iterations_per_epoch))``, as mmpretrain's hook
    of the same name does (BLIP's retrieval fine-tuning warms the ITC
    distillation weight ``alpha`` up the same way).

    Args:
        param_name: The attribute, e.g. ``'alpha'``.
        module_name: Dotted path of its module in the model, e.g. ``'head'``.
        warmup_epochs: Epochs until the attribute reaches its value.
    """

    def __init__(self, param_name: str, module_name: str, warmup_epochs: float):
        if warmup_epochs <= 0:
            raise ValueError(f'WarmupParamHook: warmup_epochs must be positive, got {warmup_epochs}')
        self.param_name = param_name
        self.module_name = module_name
        self.warmup_epochs = warmup_epochs
        self.value = None

    def _module(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        try:
            module = operator.attrgetter(self.module_name)(model)
        except AttributeError as error:
            raise AttributeError(f'WarmupParamHook: the model has no module {self.module_name!r}') from error
        if not hasattr(module, self.param_name):
            raise AttributeError(f'WarmupParamHook: {self.module_name} has no attribute {self.param_name!r}')
        return module

    def before_train(self, runner) -> None:
        self.value = getattr(self._module(runner), self.param_name)

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        iterations_per_epoch = runner.max_iters / runner.max_epochs
        progress = min(1.0, runner.iter / (self.warmup_epochs * iterations_per_epoch))
        setattr(self._module(runner), self.param_name, self.value * progress)
