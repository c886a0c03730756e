"""Convert an official Salesforce BLIP checkpoint to a checkpoint of our model.

    python tools/convert_official_blip.py SRC DST [--task caption] [--image-size 384] [--explain]

SRC is one of the authors' ``.pth`` files (``model_base.pth``,
``model_large_caption.pth``, ...) or its URL. ``--task`` picks our model: by
default the task of the file's own class (a pre-training checkpoint has none:
give one, it converts into any task model as the official fine-tuning starts
it). The position embeddings are resampled to ``--image-size`` (by default
the task's image size in official use: 384 px, VQA 480, features 224). DST is
written as an mmengine checkpoint ``{'meta': {...}, 'state_dict': {...}}``
that loads with ``torch.load(DST, weights_only=True)`` and strictly into the
task's model. ``--explain`` prints what happens to every key of SRC.

Conversion is also done on the fly: ``get_model(..., pretrained=SRC)`` and
``load_from = SRC`` take the official file as it is.
"""

import argparse
import collections
import sys
from pathlib import Path

import torch

#: The task of each official class's own model (pre-training has none).
OWN_TASK = {
    'BLIP_Decoder': 'caption',
    'BLIP_VQA': 'vqa',
    'BLIP_Retrieval': 'retrieval',
    'BLIP_ITM': 'retrieval',
    'BLIP_NLVR': 'nlvr',
    'BLIP_Base': 'feature',
}


def parse_args(argv=None):
    from blip.converters import TASK_MODELS

    parser = argparse.ArgumentParser(description='Convert an official BLIP checkpoint to ours')
    parser.add_argument('src', help='the official .pth file (or its URL), e.g. model_base.pth')
    parser.add_argument('dst', type=Path, help='checkpoint file to write')
    parser.add_argument(
        '--task',
        choices=sorted(TASK_MODELS),
        help='our model: '
        + ', '.join(f'{task}: {model}' for task, (model, _, _) in sorted(TASK_MODELS.items()))
        + " (default: the file's own task; required for a pre-training checkpoint)",
    )
    parser.add_argument(
        '--image-size',
        type=int,
        help="resample the position embeddings to this image size (default: the task's official size)",
    )
    parser.add_argument('--explain', action='store_true', help='print what happens to every key of SRC')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Convert ``SRC`` to ``DST``; returns the checkpoint written."""
    args = parse_args(argv)
    from blip import __version__
    from blip.checkpoint import read_state_dict
    from blip.converters import (
        TASK_MODELS,
        explain_official,
        is_official_blip,
        official_class,
        official_to_blip,
    )

    state_dict = read_state_dict(args.src)
    if not is_official_blip(state_dict):
        raise ValueError(
            f'{args.src}: not an official BLIP checkpoint (no visual_encoder.patch_embed.proj.weight)'
        )
    source = official_class(state_dict)
    task = args.task or OWN_TASK.get(source.name)
    if task is None:
        raise ValueError(
            f'{args.src} is an official {source.name} checkpoint, which starts the fine-tuning of every '
            f'task: choose one with --task ({", ".join(sorted(TASK_MODELS))})'
        )
    model, official_size, _ = TASK_MODELS[task]
    image_size = args.image_size or official_size
    fates = explain_official(state_dict, task)
    if args.explain:
        for key, fate in fates.items():
            print(f'{key} {fate}')
    converted = official_to_blip(state_dict, task, image_size=image_size)
    dropped = collections.Counter(fate for fate in fates.values() if fate.startswith('dropped'))
    checkpoint = {
        'meta': {
            'converted_from': f'official BLIP {source.name}',
            'source': str(args.src),
            'task': task,
            'model': model,
            'image_size': image_size,
            'blip_version': __version__,
        },
        'state_dict': converted,
    }
    args.dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(checkpoint, args.dst)
    print(f'{args.src} ({source.name}) -> {args.dst}: {len(converted)} tensors for {model}, {image_size} px')
    for reason, count in sorted(dropped.items()):
        print(f'  {count} keys {reason}')
    return checkpoint


if __name__ == '__main__':
    try:
        main()
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        sys.exit(f'convert_official_blip: {error}')
