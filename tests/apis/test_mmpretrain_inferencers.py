"""mmpretrain's inferencer names, signatures and result keys (``from blip import ...``).

The signatures are compared with mmpretrain's source, read with ``ast``: importing
mmpretrain's inferencers would import ``mmpretrain.models``, which crashes with
current transformers.
"""

import ast
import warnings
from pathlib import Path

import mmpretrain
import numpy as np
import pytest
import torch
from mmpretrain.structures import DataSample

import blip
from blip.apis import build_inferencer

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / 'tests/data/configs'
DEMO = sorted(str(p) for p in (REPO / 'demo').glob('*.png'))
MMPRETRAIN_APIS = Path(mmpretrain.__file__).parent / 'apis'
CLASSES = {
    'ImageCaptionInferencer': 'image_caption.py',
    'VisualQuestionAnsweringInferencer': 'visual_question_answering.py',
    'TextToImageRetrievalInferencer': 'multimodal_retrieval.py',
    'ImageToTextRetrievalInferencer': 'multimodal_retrieval.py',
    'NLVRInferencer': 'nlvr.py',
    'VisualGroundingInferencer': 'visual_grounding.py',
}


def mmpretrain_signature(class_name: str, method: str) -> list[tuple[str, str | None]]:
    """(name, default source) of each parameter of an mmpretrain inferencer's method."""
    for file, name in ((CLASSES[class_name], class_name), ('base.py', 'BaseInferencer')):
        for node in ast.walk(ast.parse((MMPRETRAIN_APIS / file).read_text())):
            if isinstance(node, ast.ClassDef) and node.name == name:
                for function in node.body:
                    if isinstance(function, ast.FunctionDef) and function.name == method:
                        args = function.args.args[1:]
                        defaults = [None] * (len(args) - len(function.args.defaults)) + function.args.defaults
                        return [
                            (a.arg, None if d is None else ast.unparse(d)) for a, d in zip(args, defaults)
                        ]
    raise LookupError(f'{class_name}.{method}')


def our_signature(cls, method: str) -> list[tuple[str, str | None]]:
    import inspect

    parameters = list(inspect.signature(getattr(cls, method)).parameters.values())[1:]
    return [
        (p.name, None if p.default is p.empty else repr(p.default))
        for p in parameters
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


@pytest.mark.parametrize('name', CLASSES)
@pytest.mark.parametrize('method', ['__init__', '__call__'])
def test_names_and_signatures_are_mmpretrains(name, method):
    theirs = [p for p in mmpretrain_signature(name, method) if p[0] not in ('device_map', 'offload_folder')]
    assert our_signature(getattr(blip, name), method) == theirs


@pytest.fixture(scope='module')
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield


def test_caption_by_name_with_mmpretrains_results(quiet, tmp_path):
    inferencer = blip.ImageCaptionInferencer('blip-tiny_shapes_caption')
    results = inferencer(str(REPO / 'demo'), show_dir=tmp_path)  # a folder is its images
    expected = blip.inference_model(inferencer.model, DEMO, batch_size=4)
    assert results == [{'pred_caption': r['pred_caption']} for r in expected]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).stem + '.png' for p in DEMO)
    (sample,) = inferencer(DEMO[0], return_datasamples=True)
    assert isinstance(sample, DataSample) and sample.pred_caption == results[0]['pred_caption']
    assert 'blip-base_3rdparty_caption' in blip.ImageCaptionInferencer.list_models()


def test_a_model_without_weights_keeps_random_ones_with_a_warning():
    with pytest.warns(UserWarning, match='tiny_vqa.py: no weights are known for it; its weights are random'):
        inferencer = blip.VisualQuestionAnsweringInferencer(str(CONFIGS / 'tiny_vqa.py'))
    results = inferencer(DEMO[:2], ['What shape is it?', 'Is it red?'])
    assert [set(r) for r in results] == [{'question', 'pred_answer'}] * 2
    assert results[0]['question'] == 'What shape is it?'  # as typed
    ours = blip.inference_model(inferencer.model, DEMO[0], 'What shape is it?')
    assert results[0] == ours


def test_grounding_and_nlvr_results(quiet):
    torch.manual_seed(0)
    model = blip.get_model(CONFIGS / 'tiny_refcoco.py')
    (result,) = blip.VisualGroundingInferencer(model)(DEMO[0], 'the circle')
    assert isinstance(result['pred_bboxes'], torch.Tensor) and result['pred_bboxes'].shape == (1, 4)
    assert result['pred_bboxes'].tolist() == blip.inference_model(model, DEMO[0], 'the circle')['pred_bboxes']

    nlvr = blip.NLVRInferencer(str(CONFIGS / 'tiny_nlvr.py'), pretrained=False)
    results = nlvr([(DEMO[0], DEMO[1], 'a circle'), (DEMO[2], DEMO[3], 'a square')], batch_size=2)
    assert [set(r) for r in results] == [{'pred_scores', 'pred_label', 'pred_score'}] * 2
    assert isinstance(results[0]['pred_scores'], np.ndarray) and results[0]['pred_scores'].shape == (2,)
    assert results[0]['pred_label'] == int(results[0]['pred_scores'].argmax())
    # blip.apis.NLVRInferencer's call works too, with its results.
    ours = build_inferencer(nlvr.model)((DEMO[0], DEMO[1]), 'a circle')
    assert nlvr((DEMO[0], DEMO[1]), 'a circle') == ours
    assert ours[0]['pred_scores'] == pytest.approx(results[0]['pred_scores'].tolist())


def test_retrieval_both_ways_with_a_prototype_cache(quiet, tmp_path):
    config = str(CONFIGS / 'tiny_retrieval.py')
    t2i = blip.TextToImageRetrievalInferencer(config, prototype=str(REPO / 'demo'), pretrained=False)
    (matches,) = t2i('a blue circle', topk=2)
    assert [set(m) for m in matches] == [{'match_score', 'sample_idx', 'sample'}] * 2
    assert matches[0]['sample'] == {'img_path': DEMO[matches[0]['sample_idx']]}
    assert (
        isinstance(matches[0]['match_score'], torch.Tensor)
        and matches[0]['match_score'] >= matches[1]['match_score']
    )
    # mmpretrain's default fast_match=True ranks by the cosine, as our fast_match does.
    search = build_inferencer(t2i.model)
    (ours,) = search('a blue circle', gallery=DEMO, topk=2)
    assert [m['sample_idx'] for m in matches] == [m['index'] for m in ours['matches']]

    texts = ['a blue circle', 'a green square', 'three shapes']
    cache = tmp_path / 'texts.pth'
    i2t = blip.ImageToTextRetrievalInferencer(t2i.model, prototype=texts, prototype_cache=cache)
    assert cache.is_file()
    (matches,) = i2t(DEMO[0], topk=3)
    assert [set(m) for m in matches] == [{'match_score', 'sample_idx', 'text', 'sample'}] * 3
    assert sorted(m['text'] for m in matches) == sorted(texts)
    cached = blip.ImageToTextRetrievalInferencer(t2i.model, prototype=texts, prototype_cache=cache)
    assert [m['sample_idx'] for m in cached(DEMO[0], topk=3)[0]] == [m['sample_idx'] for m in matches]
    (sample,) = i2t(DEMO[0], return_datasamples=True)
    assert sample.pred_score.shape == (3,)


def test_drawing_options():
    inferencer = blip.ImageCaptionInferencer('blip-tiny_shapes_caption')
    with pytest.raises(ValueError, match='show=True .* show_dir=FOLDER'):
        inferencer(DEMO[0], show=True)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['colour'\]"):
        inferencer(DEMO[0], colour='red')
    with pytest.warns(UserWarning, match=r"\['resize'\]: not used by blip's pictures"):
        inferencer(DEMO[0], resize=224)


def test_the_migration_guide_changes_only_the_import():
    """docs/user_guides/mmpretrain.md shows mmpretrain code, then runs it (tests/docs) with blip's import."""
    import re

    page = (REPO / 'docs/user_guides/mmpretrain.md').read_text()
    theirs, ours = re.findall(r'```python\n(.*?)```', page, flags=re.S)[:2]
    assert theirs.startswith('from mmpretrain import (') and ours.startswith('from blip import (')
    assert theirs.replace('from mmpretrain import', 'from blip import', 1) == ours
    assert all(f'    {name},' in ours for name in CLASSES)
