"""Run a model on images: ``python tools/infer.py MODEL_OR_CONFIG IMAGE... [--checkpoint PATH]``.

MODEL_OR_CONFIG is a name from ``metafile.yml`` (its weights are downloaded
once unless --checkpoint is given) or a config file (give --checkpoint).
"""

import argparse

import _common  # noqa: F401  (makes `blip` importable from a clone)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Caption images with a BLIP model')
    parser.add_argument('model', help='model name (see metafile.yml) or config file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument('--checkpoint', help="weights file or URL (default: the model name's weights)")
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    parser.add_argument('--batch-size', type=int, default=1)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import warnings

    from blip import get_model, inference_model

    pretrained = args.checkpoint or not args.model.endswith('.py')
    if not pretrained:
        warnings.warn(f'{args.model}: no --checkpoint given, the weights are random', stacklevel=1)
    model = get_model(args.model, pretrained=pretrained, device=args.device)
    results = inference_model(model, args.images, batch_size=args.batch_size)
    for image, result in zip(args.images, results):
        print(f'{image}: {result["pred_caption"]}')
    return results


if __name__ == '__main__':
    main()
