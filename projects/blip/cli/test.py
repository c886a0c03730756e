"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE]``.

The checkpoint is loaded strictly (an error lists mismatching keys); metrics
are printed and written to ``<work dir>/test_metrics.json``. ``--cpu-optimize``
evaluates a float32 CPU model with the inference-only oneDNN modules of
``blip.models.cpu_inference.optimize`` (faster; the same results to float rounding).
"""

import argparse
import json
import os
from pathlib import Path

from blip.cli._common import add_common_arguments, finish_distributed, load_config


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test a BLIP checkpoint')
    parser.add_argument('config', help='test config file')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument('--out', help='dump the predictions to this pickle file')
    parser.add_argument(
        '--cpu-optimize',
        action='store_true',
        help='on CPU, evaluate with the inference-only oneDNN modules (blip.models.cpu_inference)',
    )
    add_common_arguments(parser)
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main(argv=None):
    args = parse_args(argv)
    from mmengine.dist import is_main_process
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import blip  # noqa: F401
    from blip.checkpoint import load_checkpoint
    from blip.models.cpu_inference import optimize

    cfg = load_config(args)
    cfg.load_from = None  # loaded strictly below instead of mmengine's lenient load
    if args.out:
        cfg.test_evaluator = (
            list(cfg.test_evaluator) if isinstance(cfg.test_evaluator, list) else [cfg.test_evaluator]
        )
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    succeeded = False
    try:
        runner = Runner.from_cfg(cfg)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        load_checkpoint(model, args.checkpoint)
        if args.cpu_optimize:
            optimize(model)
        metrics = runner.test()
        if is_main_process():
            path = Path(cfg.work_dir) / 'test_metrics.json'
            path.write_text(json.dumps(metrics, indent=2, default=float))
            print(f'test metrics written to {path}')
        succeeded = True
    finally:
        finish_distributed(succeeded)
    return metrics


if __name__ == '__main__':
    main()
