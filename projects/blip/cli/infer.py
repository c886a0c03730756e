"""Run a model on images: ``python tools/infer.py MODEL_OR_CONFIG IMAGE... [options]``.

MODEL_OR_CONFIG is a name from ``metafile.yml`` (its weights are downloaded
once unless --checkpoint is given) or a config file (give --checkpoint).
Task inputs beyond the images (``--question`` for VQA, ``--text`` for a
statement, referring expression or query) go to the task's inferencer.
NLVR models take exactly two images, the left and the right image of one pair;
``--out`` draws each result on its image (a file for one input, a folder for
several).

Nothing computed is lost: a result is printed (and written to ``--out-json``
as a JSON line) as soon as its batch is done; an image that cannot be read is
reported and skipped, and the exit status is 1 at the end when any was. A
retrieval query ranks all the images, so its results come after the last
batch. A mistake (a bad option, an unknown model, an offline download) is one
line on stderr, exit status 2; ``--debug`` shows the traceback.
"""

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path

USAGE_ERROR = 2


def positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'not an integer: {text!r}') from None
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Run a BLIP model on images', formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument('model', help='model name (see metafile.yml) or config file')
    parser.add_argument('images', nargs='+', help='image files (NLVR: exactly two, the left and right image)')
    parser.add_argument('--checkpoint', help="weights file or URL (default: the model name's weights)")
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda, cuda:1')
    parser.add_argument('--batch-size', type=positive_int, default=1, help='images per forward pass')
    parser.add_argument('--question', help='question about the image (VQA)')
    parser.add_argument('--text', help='statement, referring expression or text query')
    parser.add_argument(
        '--out', help='draw the results: a file for one input, else a folder (<index>_<image name>.png)'
    )
    parser.add_argument(
        '--out-json',
        metavar='FILE',
        help="also write one JSON line per input to FILE ('-': stdout, instead of text)",
    )
    parser.add_argument(
        '--precision',
        choices=['float32', 'bfloat16', 'float16'],
        help='inference precision (lower ones by autocast)',
    )
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser.parse_args(argv)


def format_result(result: dict) -> str:
    """The prediction of one result dict as one line."""
    if set(result) == {'pred_caption'}:
        return result['pred_caption']
    return json.dumps(result, default=float)


class Report:
    """Where results and failures go: text lines on stdout, JSON lines, a progress bar on stderr."""

    def __init__(self, args, total: int, stack: ExitStack):
        from tqdm import tqdm

        json_path = args.out_json
        self.text = json_path != '-'
        self.json = None
        if json_path == '-':
            self.json = sys.stdout
        elif json_path:
            Path(json_path).parent.mkdir(parents=True, exist_ok=True)
            self.json = stack.enter_context(open(json_path, 'w', encoding='utf-8'))
        # Only worth a bar when the run takes more than one batch; tqdm hides it off a terminal.
        long_run = total > args.batch_size
        self.bar = stack.enter_context(tqdm(total=total, unit='image', disable=None if long_run else True))
        self.failed: list[str] = []

    def _line(self, text: str, file) -> None:
        self.bar.write(text, file=file)
        file.flush()

    def result(self, name: str | list[str], result: dict) -> None:
        label = ' + '.join(name) if isinstance(name, list) else name
        if self.text:
            self._line(f'{label}: {format_result(result)}', sys.stdout)
        if self.json is not None:
            self._line(json.dumps({'input': name, **result}, default=float), self.json)

    def failure(self, name: str, error: Exception) -> None:
        self.failed.append(name)
        message = str(error)
        self._line(f'{name}: skipped: {message}', sys.stderr)
        if self.json is not None:
            self._line(json.dumps({'input': name, 'error': message}), self.json)

    def done(self, count: int) -> None:
        self.bar.update(count)


def load_images(paths: list[str]) -> tuple[list, dict[str, Exception]]:
    """``(path, BGR array)`` of each readable image, and the error of each other one."""
    from blip.apis.inferencer import load_image

    loaded, failed = [], {}
    for path in paths:
        try:
            loaded.append((path, load_image(path)))
        except (OSError, ValueError) as error:
            failed[path] = error
    return loaded, failed


def report_in_order(report: Report, paths: list[str], results: dict[str, dict], failed: dict) -> None:
    """Report each input's result or failure, in the order given."""
    for path in paths:
        if path in failed:
            report.failure(path, failed[path])
        else:
            report.result(path, results[path])
    report.done(len(paths))


def drawing_path(out: str | None, index: int, path: str, total: int) -> Path | None:
    """Where ``--out`` puts the drawing of input ``index`` of ``total``."""
    if out is None:
        return None
    return Path(out) if total == 1 else Path(out) / f'{index}_{Path(path).stem}.png'


def run(args, inferencer, report: Report) -> list[dict]:
    """Run the task on ``args.images``, reporting each result as soon as it is computed."""
    from blip.apis import NLVRInferencer, RetrievalInferencer

    images, total = args.images, len(args.images)
    if isinstance(inferencer, NLVRInferencer):
        if total != 2:
            raise ValueError(f'NLVR takes exactly two images, the left and the right one; got {total}')
        loaded, failed = load_images(images)
        if failed:
            report_in_order(report, list(failed), {}, failed)
            return []
        (result,) = inferencer(tuple(a for _, a in loaded), args.text, out=args.out)
        report.result(images, result)
        report.done(2)
        return [result]
    if isinstance(inferencer, RetrievalInferencer):
        if args.text is None:
            raise ValueError('retrieval ranks the images for a text: give --text "..."')
        loaded, failed = load_images(images)
        results = []
        if loaded:
            arrays = [a for _, a in loaded]
            results = inferencer(arrays, text=args.text, batch_size=args.batch_size, out=args.out)
        report_in_order(report, images, {path: r for (path, _), r in zip(loaded, results)}, failed)
        return results
    task_inputs = [getattr(args, name) for name in inferencer.input_names[1:]]
    index = {path: i for i, path in reversed(list(enumerate(images)))}
    results = []
    for start in range(0, total, args.batch_size):
        paths = images[start : start + args.batch_size]
        loaded, failed = load_images(paths)
        batch = []
        if loaded:
            out = None
            if args.out is not None:
                out = [drawing_path(args.out, index[path], path, total) for path, _ in loaded]
            batch = inferencer([a for _, a in loaded], *task_inputs, batch_size=args.batch_size, out=out)
        report_in_order(report, paths, {path: r for (path, _), r in zip(loaded, batch)}, failed)
        results.extend(batch)
    return results


def build(args):
    """The model's inferencer; the options it cannot take are a usage error."""
    import warnings

    from blip import get_model
    from blip.apis import RetrievalInferencer, build_inferencer

    pretrained = args.checkpoint or not args.model.endswith('.py')
    if not pretrained:
        warnings.warn(f'{args.model}: no --checkpoint given, the weights are random', stacklevel=1)
    model = get_model(args.model, pretrained=pretrained, device=args.device)
    if args.precision is not None:
        model.precision = args.precision
    inferencer = build_inferencer(model, cpu_optimize=True)
    # The task's inputs after the images; retrieval's --text is its query.
    takes = set(inferencer.input_names[1:]) | (
        {'text'} if isinstance(inferencer, RetrievalInferencer) else set()
    )
    given = {name for name in ('question', 'text') if getattr(args, name) is not None}
    if given - takes:
        raise ValueError(f'{type(model).__name__} does not take --{", --".join(sorted(given - takes))}')
    missing = [name for name in inferencer.input_names[1:] if getattr(args, name) is None]
    if missing:
        raise ValueError(f'{type(model).__name__} needs --{missing[0]} "..."')
    return inferencer


def explain(error: Exception, args) -> str:
    """The one line a command-line user reads for ``error``."""
    from blip.checkpoint import WeightsDownloadError

    if isinstance(error, WeightsDownloadError):
        return (
            f'could not download the weights of {args.model} ({error.__cause__ or "offline?"}). Download '
            f'{error.url} elsewhere and pass it with --checkpoint FILE (or copy it into {error.cache_dir})'
        )
    return str(error)


def main(argv=None):
    """Run the tool; returns the results (a failed image: exit status 1 after the others)."""
    args = parse_args(argv)
    from blip.checkpoint import CheckpointLoadError, CheckpointMismatchError, WeightsDownloadError

    user_errors = (ValueError, OSError, CheckpointLoadError, CheckpointMismatchError, WeightsDownloadError)
    try:
        inferencer = build(args)
        with ExitStack() as stack:
            report = Report(args, len(args.images), stack)
            results = run(args, inferencer, report)
    except user_errors as error:
        if args.debug:
            raise
        print(f'error: {explain(error, args)} (--debug shows the traceback)', file=sys.stderr)
        raise SystemExit(USAGE_ERROR) from None
    if report.failed:
        print(
            f'{len(report.failed)} of {len(args.images)} images could not be read (see above)',
            file=sys.stderr,
        )
        raise SystemExit(1)
    return results


if __name__ == '__main__':
    main()
