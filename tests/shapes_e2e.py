"""Train and test tiny models on the generated shapes benchmark through the tools."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RETRIEVAL_CONFIG = 'configs/blip/blip-tiny_shapes_retrieval.py'


def data_root_options(root: Path) -> list[str]:
    """``--cfg-options`` pointing every dataset of a shapes config at ``root`` (the tools move them all)."""
    return [f'data_root={root}']


def run(command: list[str], timeout: int = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / 'projects'), OMP_NUM_THREADS='1')
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result


def train_model(config: str, work_dir: Path, options: list[str], *extra: str) -> subprocess.CompletedProcess:
    return run(
        [
            sys.executable,
            'tools/train.py',
            config,
            '--work-dir',
            str(work_dir),
            *extra,
            '--cfg-options',
            *options,
        ]
    )


#: ``--cfg-options`` that train without validating: mmengine validates after
#: the last epoch whatever ``train_cfg.val_interval`` says.
NO_VALIDATION = ['val_cfg=None', 'val_dataloader=None', 'val_evaluator=None']


def train_checkpoint(config: str, work_dir: Path, options: list[str]) -> Path:
    """Train ``config`` on its own schedule (tools/train.py); its last checkpoint."""
    from mmengine.config import Config

    train_model(config, work_dir, options)
    return work_dir / f'epoch_{Config.fromfile(REPO / config).train_cfg.max_epochs}.pth'


def evaluate_checkpoint(config: str, checkpoint: Path, work_dir: Path, options: list[str]) -> dict:
    run(
        [
            sys.executable,
            'tools/test.py',
            config,
            str(checkpoint),
            '--work-dir',
            str(work_dir),
            '--cfg-options',
            *options,
        ]
    )
    return json.loads((work_dir / 'test_metrics.json').read_text())


def dist(script: str, *args: str, options: list[str], port: int) -> subprocess.CompletedProcess:
    env_port = ['env', f'PORT={port}', f'PYTHON={sys.executable}']
    return run([*env_port, 'bash', f'tools/{script}', *args, '--cfg-options', *options])


def dist_test_metrics(
    config: str, checkpoint: Path, work_dir: Path, options: list[str], port: int
) -> tuple[dict, str]:
    """Test metrics of ``checkpoint`` on two processes (tools/dist_test.sh), and the run's log."""
    result = dist(
        'dist_test.sh', config, str(checkpoint), '2', '--work-dir', str(work_dir), options=options, port=port
    )
    return json.loads((work_dir / 'test_metrics.json').read_text()), result.stdout + result.stderr


def retrieval_to_nlvr(checkpoint: Path, out: Path) -> Path:
    """A trained retrieval model as the start of an NLVR model, as BLIP's NLVR2
    fine-tuning starts from the pre-trained model: the image tower as it is, the
    text encoder as the multimodal encoder, its cross-attention copied into both
    image branches (``self0``/``self1``, ``dense0``/``dense1``); the classifier
    starts afresh."""
    import torch

    state = torch.load(checkpoint, map_location='cpu', weights_only=True)['state_dict']
    nlvr = {}
    for key, value in state.items():
        if key.startswith('vision_backbone.'):
            nlvr[key] = value
        elif key.startswith('text_backbone.'):
            key = key.replace('text_backbone.', 'multimodal_backbone.', 1)
            twins = [
                key.replace(part, part[:-1] + f'{branch}.')
                for branch in (0, 1)
                for part in ('.crossattention.self.', '.crossattention.output.dense.')
                if part in key
            ]
            for name in twins or [key]:
                nlvr[name] = value
    torch.save({'state_dict': nlvr}, out)
    return out
