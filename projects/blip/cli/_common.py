"""Shared set-up of the command-line tools (not a public module)."""

import argparse
from pathlib import Path

import torch


def load_config(args):
    """The config of ``args.config`` with ``--cfg-options`` and ``--work-dir``
    applied; gloo replaces nccl when no GPU is present."""
    from mmengine.config import Config

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
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
        help='override config entries, e.g. train_dataloader.batch_size=8',
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
