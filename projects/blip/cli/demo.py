"""A demo page in the browser: ``python tools/demo.py [MODEL [CHECKPOINT]] ...``.

One tab per task: caption, visual question answering, retrieval over an
uploaded gallery (text to images and image to texts), NLVR2 on an image pair
and grounding. Each MODEL is a ``list_models()`` name or a config file; a
weights file or URL after it is its checkpoint. Without MODELs the page runs
offline on the shipped tiny shapes models: the trained captioner, and the
other tasks' tiny configs with random weights (the tab says so), which show
the pipeline at work rather than meaningful answers.

Needs gradio: ``pip install -e ".[demo]"``.
"""

import argparse
import os
from pathlib import Path

#: Model class -> (tab title, element id, a released model of the task).
TASKS = {
    'BlipCaption': ('Caption', 'caption', 'blip-base_3rdparty_caption'),
    'BlipVQA': ('Question answering', 'vqa', 'blip-base_3rdparty_vqa'),
    'BlipRetrieval': ('Retrieval', 'retrieval', 'blip-base_3rdparty_retrieval'),
    'BlipNLVR': ('NLVR2', 'nlvr', 'blip-base_3rdparty_nlvr'),
    'BlipGrounding': ('Grounding', 'grounding', 'blip-base_8xb16_refcoco'),
}
DEFAULT_MODELS = [f'blip-tiny_shapes_{task}' for task in ('caption', 'vqa', 'retrieval', 'nlvr', 'refcoco')]
EXAMPLE_TEXTS = 'a blue circle\na green square\nthree shapes'
WEIGHTS_SUFFIXES = ('.pth', '.pt', '.ckpt', '.bin', '.safetensors')
#: Fonts of the browser, not Google's: the page works offline.
SYSTEM_FONTS = ['ui-sans-serif', 'system-ui', 'sans-serif']


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='A demo page with a tab per task', formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument(
        'models',
        nargs='*',
        metavar='MODEL [CHECKPOINT]',
        help='model names or config files, each optionally followed by its weights file or URL '
        f'(default: {" ".join(DEFAULT_MODELS)})',
    )
    parser.add_argument('--device', default='cpu', help='e.g. cpu, cuda')
    parser.add_argument('--host', default='127.0.0.1', help='address to serve on (0.0.0.0: every interface)')
    parser.add_argument('--port', type=int, default=7860)
    return parser.parse_args(argv)


def is_weights(word: str) -> bool:
    """A URL, a file with a weights suffix, or another existing file that is not a config."""
    path = Path(word)
    return (
        word.startswith(('http://', 'https://'))
        or path.suffix in WEIGHTS_SUFFIXES
        or (path.is_file() and path.suffix != '.py')
    )


def model_specs(words: list[str]) -> list[tuple[str, str | None]]:
    """``(model, checkpoint)`` pairs: weights (a file or URL) after a model are its checkpoint.

    Raises:
        ValueError: Weights without a model before them, or an unknown model name
            (the message suggests close ones).
    """
    from blip.apis import model_info

    specs: list[tuple[str, str | None]] = []
    for word in words:
        if is_weights(word):
            if not specs or specs[-1][1] is not None:
                raise ValueError(f'{word}: weights, but no model before it takes them')
            specs[-1] = (specs[-1][0], word)
        else:
            if not word.endswith('.py'):
                model_info(word)  # an unknown name fails here, with the close ones
            specs.append((word, None))
    return specs


def load_inferencers(specs, device: str = 'cpu') -> dict[str, tuple[object, str]]:
    """Task (model class name) -> (inferencer, a line describing the model)."""
    from blip import get_model
    from blip.apis import build_inferencer, model_info

    loaded = {}
    for model, checkpoint in specs:
        is_name = not model.endswith('.py')
        known = model_info(model).weights if is_name else None
        weights = checkpoint or known
        net = get_model(model, pretrained=weights or False, device=device)
        task = type(net).__name__
        if task not in TASKS:
            raise ValueError(f'{model}: the demo has no tab for {task} models')
        if task in loaded:
            raise ValueError(f'{model}: a second {TASKS[task][0]} model; the demo shows one model per task')
        where = (
            f'weights {Path(str(weights)).name}'
            if weights
            else '**random weights**: the pipeline at work, not an answer'
        )
        loaded[task] = (build_inferencer(net, cpu_optimize=True), f'Model: `{Path(model).stem}`, {where}.')
    return loaded


def rgb(bgr):
    return bgr[..., ::-1]


def run(function):
    """Call ``function``; a user's mistake (no image, a bad file, an empty text) shows as an error box."""
    import gradio as gr

    def wrapped(*args):
        try:
            return function(*args)
        except (ValueError, TypeError, OSError) as error:
            raise gr.Error(str(error)) from None

    return wrapped


def need(value, what: str):
    if value is None or (isinstance(value, str | list) and not value):
        raise ValueError(f'give {what}')
    return value


def image_input(label: str, elem_id: str):
    import gradio as gr

    # image_mode=None: the file as uploaded (a 16-bit image is not clipped to 8 bits here).
    return gr.Image(type='filepath', image_mode=None, label=label, elem_id=elem_id, height=220)


def section(name: str, button: str, result: str, function, make_inputs) -> None:
    """Inputs and a button on the left, the result and its picture on the right."""
    import gradio as gr

    with gr.Row():
        with gr.Column():
            inputs = make_inputs()
            submit = gr.Button(button, variant='primary', elem_id=f'{name}-submit')
        with gr.Column():
            text = gr.Textbox(
                label=result, lines=3 if name in ('t2i', 'i2t') else 1, elem_id=f'{name}-result'
            )
            picture = gr.Image(label='Picture', interactive=False, elem_id=f'{name}-picture')
    submit.click(run(function), inputs, [text, picture])


def caption_tab(inferencer):
    def caption(image):
        (result,) = inferencer(need(image, 'an image'))
        return result['pred_caption'], rgb(inferencer.draw(image, result))

    section('caption', 'Caption', 'Caption', caption, lambda: [image_input('Image', 'caption-image')])


def vqa_tab(inferencer):
    import gradio as gr

    def answer(image, question):
        (result,) = inferencer(need(image, 'an image'), need(question, 'a question'))
        return result['pred_answer'], rgb(inferencer.draw(image, result))

    def inputs():
        question = gr.Textbox(label='Question', value='what shape is it?', elem_id='vqa-question')
        return [image_input('Image', 'vqa-image'), question]

    section('vqa', 'Answer', 'Answer', answer, inputs)


def retrieval_tab(inferencer):
    import gradio as gr

    def ranking(result, gallery) -> str:
        """One line per match: rank, the image's file name or the text, score."""
        names = [Path(item).name for item in gallery] if 'text' in result else gallery
        return '\n'.join(
            f'{rank}. {names[m["index"]]} ({m["score"]:.3f})' for rank, m in enumerate(result['matches'], 1)
        )

    def images_for_text(query, files):
        files = need(files, 'the images to search')
        (result,) = inferencer(need(query, 'a text'), gallery=files, topk=len(files), mode='t2i')
        return ranking(result, files), rgb(inferencer.draw(query, files, result))

    def texts_for_image(image, texts):
        texts = [t.strip() for t in (texts or '').splitlines() if t.strip()]
        gallery = need(texts, 'texts, one per line')
        (result,) = inferencer(need(image, 'an image'), gallery=gallery, topk=len(texts), mode='i2t')
        return ranking(result, texts), rgb(inferencer.draw(image, texts, result))

    def text_and_gallery():
        query = gr.Textbox(label='Text', value='a blue circle', elem_id='t2i-query')
        gallery = gr.File(file_count='multiple', file_types=['image'], label='Gallery', elem_id='t2i-gallery')
        return [query, gallery]

    def image_and_texts():
        texts = gr.Textbox(label='Texts, one per line', lines=3, value=EXAMPLE_TEXTS, elem_id='i2t-texts')
        return [image_input('Image', 'i2t-image'), texts]

    gr.Markdown('**Text to images**: rank the images of an uploaded gallery for a text.')
    section('t2i', 'Search images', 'Ranking', images_for_text, text_and_gallery)
    gr.Markdown('**Image to texts**: rank texts for an image.')
    section('i2t', 'Search texts', 'Ranking', texts_for_image, image_and_texts)


def nlvr_tab(inferencer):
    import gradio as gr

    def judge(left, right, statement):
        pair = (need(left, 'the left image'), need(right, 'the right image'))
        (result,) = inferencer(pair, need(statement, 'a statement'))
        verdict = f'{result["pred_class"]} (p = {result["pred_score"]:.3f})'
        return verdict, rgb(inferencer.draw(pair, statement, result))

    def inputs():
        with gr.Row():
            pair = [image_input('Left image', 'nlvr-left'), image_input('Right image', 'nlvr-right')]
        statement = gr.Textbox(
            label='Statement', value='there is a circle in the left image', elem_id='nlvr-text'
        )
        return [*pair, statement]

    section('nlvr', 'Judge', 'Verdict', judge, inputs)


def grounding_tab(inferencer):
    import gradio as gr

    def ground(image, expression):
        (result,) = inferencer(need(image, 'an image'), need(expression, 'an expression'))
        box = ', '.join(f'{v:.0f}' for v in result['pred_bboxes'][0])
        return f'[{box}]', rgb(inferencer.draw(image, expression, result))

    def inputs():
        expression = gr.Textbox(
            label='Referring expression', value='the blue circle', elem_id='grounding-text'
        )
        return [image_input('Image', 'grounding-image'), expression]

    section('grounding', 'Find', 'Box (x0, y0, x1, y1 in pixels)', ground, inputs)


TABS = {
    'BlipCaption': caption_tab,
    'BlipVQA': vqa_tab,
    'BlipRetrieval': retrieval_tab,
    'BlipNLVR': nlvr_tab,
    'BlipGrounding': grounding_tab,
}


def build_demo(inferencers: dict[str, tuple[object, str]]):
    """The page: a tab per task, each with its model or how to start the demo with one."""
    os.environ.setdefault('GRADIO_ANALYTICS_ENABLED', 'False')
    import gradio as gr

    with gr.Blocks(title='BLIP demo', analytics_enabled=False) as demo:
        gr.Markdown('# BLIP for OpenMMLab\nUpload an image, then press the button of the tab.')
        for task, (title, name, example) in TASKS.items():
            with gr.Tab(title, elem_id=f'tab-{name}'):
                if task in inferencers:
                    inferencer, description = inferencers[task]
                    gr.Markdown(description)
                    TABS[task](inferencer)
                else:
                    gr.Markdown(
                        f'No {title} model: start the demo with one, e.g. `python tools/demo.py {example}`'
                    )
    return demo


def launch(demo, host: str, port: int, **kwargs):
    """Serve the page (``kwargs``: more of gradio's ``launch`` options)."""
    import gradio as gr

    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=['ui-monospace', 'monospace'])
    return demo.launch(server_name=host, server_port=port, theme=theme, **kwargs)


def main(argv=None):
    args = parse_args(argv)
    try:
        import gradio  # noqa: F401
    except ModuleNotFoundError:
        raise SystemExit(
            'the demo needs gradio: pip install -e ".[demo]" (or pip install "gradio>=6,<7")'
        ) from None
    from blip.checkpoint import CheckpointLoadError, CheckpointMismatchError, WeightsDownloadError

    try:
        inferencers = load_inferencers(model_specs(args.models or DEFAULT_MODELS), args.device)
    except WeightsDownloadError as error:
        raise SystemExit(
            f'error: could not download {error.url} ({error.__cause__}). Download it elsewhere and give the '
            'file after the model name: python tools/demo.py MODEL FILE'
        ) from None
    except (ValueError, OSError, CheckpointLoadError, CheckpointMismatchError) as error:
        raise SystemExit(f'error: {error}') from None
    launch(build_demo(inferencers), args.host, args.port)


if __name__ == '__main__':
    main()
