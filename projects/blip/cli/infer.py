"""Run a model on images: ``python tools/infer.py MODEL_OR_CONFIG IMAGE... [options]``.

MODEL_OR_CONFIG is a name from ``metafile.yml`` (its weights are downloaded
once unless --checkpoint is given) or a config file (give --checkpoint).
Task inputs beyond the images (``--question`` for VQA, ``--text`` for a
statement, referring expression or query) go to the task's inferencer.
NLVR models take exactly two images, the left and the right image of one pair;
grounding models draw the predicted box on the image with ``--out FILE``.
"""

import argparse
import inspect
import json


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Run a BLIP model on images')
    parser.add_argument('model', help='model name (see metafile.yml) or config file')
    parser.add_argument('images', nargs='+', help='image files (NLVR: exactly two, the left and right image)')
    parser.add_argument('--checkpoint', help="weights file or URL (default: the model name's weights)")
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument('--question', help='question about the image (VQA)')
    parser.add_argument('--text', help='statement, referring expression or text query')
    parser.add_argument(
        '--out', help='where to save a drawing of the result (grounding: the image with the predicted box)'
    )
    parser.add_argument(
        '--precision',
        choices=['float32', 'bfloat16', 'float16'],
        help='inference precision (lower ones by autocast)',
    )
    return parser.parse_args(argv)


def format_result(result: dict) -> str:
    """The prediction of one result dict as one line."""
    if set(result) == {'pred_caption'}:
        return result['pred_caption']
    return json.dumps(result, default=float)


def main(argv=None):
    args = parse_args(argv)
    import warnings

    from blip import get_model
    from blip.apis import build_inferencer

    pretrained = args.checkpoint or not args.model.endswith('.py')
    if not pretrained:
        warnings.warn(f'{args.model}: no --checkpoint given, the weights are random', stacklevel=1)
    model = get_model(args.model, pretrained=pretrained, device=args.device)
    if args.precision is not None:
        model.precision = args.precision
    inferencer = build_inferencer(model, cpu_optimize=True)
    task_inputs = {k: getattr(args, k) for k in ('question', 'text', 'out') if getattr(args, k) is not None}
    accepted = inspect.signature(inferencer.__call__).parameters
    unknown = sorted(k for k in task_inputs if k not in accepted)
    if unknown:
        raise SystemExit(f'{type(model).__name__} does not take --{", --".join(unknown)}')
    results = inferencer(args.images, batch_size=args.batch_size, **task_inputs)
    images_per_result = len(args.images) // max(len(results), 1)  # 2 for an NLVR pair
    for index, result in enumerate(results):
        names = ' + '.join(args.images[index * images_per_result : (index + 1) * images_per_result])
        print(f'{names}: {format_result(result)}')
    return results


if __name__ == '__main__':
    main()
