"""Shared set-up of the command-line tools (not a public module)."""

import argparse
from pathlib import Path

import torch


def move_data_root(cfg, data_root: str) -> None:
    """Set ``data_root`` as the root of every dataset that reads the config's ``data_root``.

    A config's top-level ``data_root`` is only the variable its datasets were
    filled from; each dataset's own ``data_root`` is what counts, and every
    other path of the dataset is relative to it. Datasets with another root
    (VQAv2's Visual Genome part) keep theirs.
    """
    old = cfg.get('data_root')

    def visit(node):
        if isinstance(node, dict):
            if old is not None and node.get('data_root') == old:
                node['data_root'] = data_root
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for split in ('train', 'val', 'test'):
        visit(cfg.get(f'{split}_dataloader'))
    cfg.data_root = data_root


def load_config(args):
    """The config of ``args.config`` with ``--cfg-options`` and ``--work-dir``
    applied; gloo replaces nccl when no GPU is present.

    ``--cfg-options data_root=DIR`` moves every dataset that reads the
    config's ``data_root`` to ``DIR`` (:func:`move_data_root`), before the
    other options apply.
    """
    from mmengine.config import Config

    cfg = Config.fromfile(args.config)
    options = dict(args.cfg_options or {})
    if 'data_root' in options:
        move_data_root(cfg, options.pop('data_root'))
    if options:
        cfg.merge_from_dict(options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = str(Path('work_dirs') / Path(args.config).stem)
    cfg.launcher = args.launcher
    if not torch.cuda.is_available():
        if cfg.get('env_cfg', {}).get('dist_cfg', {}).get('backend') == 'nccl':
            cfg.env_cfg.dist_cfg.backend = 'gloo'
        if args.launcher == 'pytorch':
            # mmengine's pytorch launcher and model wrapper pick a CUDA device:
            # on CPU-only machines start the gloo process group here (the
            # Runner reuses it) and wrap the model without device ids.
            torch.distributed.init_process_group(backend='gloo')
            find_unused = cfg.get('find_unused_parameters', False)
            cfg.setdefault(
                'model_wrapper_cfg',
                dict(type='MMDistributedDataParallel', device_ids=None, find_unused_parameters=find_unused),
            )
    return cfg


def add_common_arguments(parser):
    from mmengine.config import DictAction

    parser.add_argument('--work-dir', help='folder for logs, checkpoints and predictions')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config entries, e.g. train_dataloader.batch_size=8; data_root=DIR moves the datasets',
    )
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0, help=argparse.SUPPRESS)


def finish_distributed(succeeded: bool) -> None:
    """Tear down the process group, so gloo's threads are gone before the
    interpreter exits (else a rank can abort with std::terminate at exit).

    After a successful run every rank first waits for the others, so no rank
    tears down while another still talks to it; after a failure a rank leaves
    at once rather than wait for peers that may never arrive.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        if succeeded:
            torch.distributed.barrier()
        torch.distributed.destroy_process_group()
