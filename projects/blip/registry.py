"""Registries of the ``blip`` scope.

Each registry is a child of mmpretrain's, so a config with
``default_scope = 'blip'`` finds our classes first and falls back to
mmpretrain's and mmengine's for everything else. The module exists under this
name so that mmengine's ``import blip.registry`` (run for every scope) works
and no scope warning is printed.
"""

from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry


def _child(name: str, locations: list[str]) -> Registry:
    parent = getattr(mmpretrain_registry, name)
    return Registry(parent.name, parent=parent, scope='blip', locations=locations)


MODELS = _child('MODELS', ['blip.models'])
TOKENIZER = _child('TOKENIZER', ['blip.models'])
DATASETS = _child('DATASETS', ['blip.datasets'])
TRANSFORMS = _child('TRANSFORMS', ['blip.datasets'])
DATA_SAMPLERS = _child('DATA_SAMPLERS', ['blip.datasets'])
METRICS = _child('METRICS', ['blip.evaluation'])
EVALUATORS = _child('EVALUATORS', ['blip.evaluation'])
LOOPS = _child('LOOPS', ['blip.engine'])
HOOKS = _child('HOOKS', ['blip.engine'])
RUNNERS = _child('RUNNERS', ['blip.engine'])
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS', ['blip.engine'])
LOG_PROCESSORS = _child('LOG_PROCESSORS', ['blip.engine'])
OPTIMIZERS = _child('OPTIMIZERS', ['blip.engine'])
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS', ['blip.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS', ['blip.engine'])
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS', ['blip.engine'])
MODEL_WRAPPERS = _child('MODEL_WRAPPERS', ['blip.engine'])
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS', ['blip.models'])
TASK_UTILS = _child('TASK_UTILS', ['blip.models'])
VISUALIZERS = _child('VISUALIZERS', ['blip.engine'])
VISBACKENDS = _child('VISBACKENDS', ['blip.engine'])
