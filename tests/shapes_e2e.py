"""Train and test tiny models on the generated shapes benchmark through the tools."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


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
