"""Convert a Hugging Face BLIP checkpoint to a checkpoint of our model.

    python tools/convert_hf_blip.py SRC DST [--task caption]

SRC is a ``model.safetensors`` or ``pytorch_model.bin`` file (or the
``.index.json`` of a sharded one), or a folder holding one, as written by
``save_pretrained``. DST is written as an mmengine checkpoint
``{'meta': {...}, 'state_dict': {...}}`` that loads with
``torch.load(DST, weights_only=True)`` and strictly into the task's model
(``BlipCaption`` for ``--task caption``), e.g. via ``load_from`` or
``tools/infer.py --checkpoint DST``.
"""

import argparse
import json
import sys
from pathlib import Path

import torch

#: Weight files of a ``save_pretrained`` folder, in the order they are looked for.
WEIGHT_FILES = (
    'model.safetensors',
    'pytorch_model.bin',
    'model.safetensors.index.json',
    'pytorch_model.bin.index.json',
)


def parse_args(argv=None):
    from blip.converters import TASKS

    parser = argparse.ArgumentParser(description='Convert a Hugging Face BLIP checkpoint to ours')
    parser.add_argument(
        'src', type=Path, help='model.safetensors / pytorch_model.bin, or a folder holding one'
    )
    parser.add_argument('dst', type=Path, help='checkpoint file to write (e.g. blip-base_caption.pth)')
    parser.add_argument(
        '--task',
        choices=sorted(TASKS),
        default='caption',
        help='the Hugging Face model: ' + ', '.join(f'{t}: {m.hf_model}' for t, m in sorted(TASKS.items())),
    )
    return parser.parse_args(argv)


def weight_files(src: Path) -> list[Path]:
    """The files holding the weights of ``src`` (several for a sharded checkpoint)."""
    if src.is_dir():
        found = [src / name for name in WEIGHT_FILES if (src / name).is_file()]
        if not found:
            raise FileNotFoundError(f'{src}: no weights file (looked for {", ".join(WEIGHT_FILES)})')
        src = found[0]
    if not src.is_file():
        raise FileNotFoundError(f'{src}: no such file')
    if src.name.endswith('.index.json'):
        with open(src, encoding='utf-8') as f:
            shards = sorted(set(json.load(f)['weight_map'].values()))
        return [src.parent / shard for shard in shards]
    return [src]


def read_hf_state_dict(files: list[Path]) -> dict[str, torch.Tensor]:
    """The tensors of Hugging Face weight files (safetensors or torch pickles)."""
    state_dict = {}
    for path in files:
        if path.suffix == '.safetensors':
            from safetensors.torch import load_file

            state_dict.update(load_file(path))
        else:
            state_dict.update(torch.load(path, map_location='cpu', weights_only=True))
    return state_dict


def main(argv=None) -> dict:
    """Convert ``SRC`` to ``DST``; returns the checkpoint written."""
    args = parse_args(argv)
    from blip import __version__
    from blip.converters import TASKS, hf_blip_to_blip

    files = weight_files(args.src)
    state_dict = hf_blip_to_blip(read_hf_state_dict(files), task=args.task)
    checkpoint = {
        'meta': {
            'converted_from': f'transformers {TASKS[args.task].hf_model}',
            'source_files': [path.name for path in files],
            'task': args.task,
            'blip_version': __version__,
        },
        'state_dict': state_dict,
    }
    args.dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, args.dst)
    print(f'{args.src} -> {args.dst}: {len(state_dict)} tensors ({args.task})')
    return checkpoint


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, NotImplementedError, ValueError) as error:
        sys.exit(f'convert_hf_blip: {error}')
