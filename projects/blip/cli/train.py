"""Train a BLIP model: ``python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]``."""

import argparse
import os

from blip.cli._common import add_common_arguments, finish_distributed, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a BLIP model')
    parser.add_argument('config', help='training config file')
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from a checkpoint; without a path, from the latest one in the work dir',
    )
    parser.add_argument('--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument('--no-validate', action='store_true', help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true', help='scale the learning rate by batch size')
    parser.add_argument('--no-pin-memory', action='store_true', help='disable pin_memory in dataloaders')
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.runner import Runner

    import blip  # noqa: F401  (registries, safe checkpoint loading)

    cfg = load_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.no_validate:
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    if args.auto_scale_lr:
        cfg.setdefault('auto_scale_lr', {})['enable'] = True
    if args.no_pin_memory:
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(key):
                cfg[key]['pin_memory'] = False
    if args.resume == 'auto':
        cfg.resume, cfg.load_from = True, None
    elif args.resume is not None:
        cfg.resume, cfg.load_from = True, args.resume
    succeeded = False
    try:
        Runner.from_cfg(cfg).train()
        succeeded = True
    finally:
        finish_distributed(succeeded)


if __name__ == '__main__':
    main()
