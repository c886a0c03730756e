"""Retrieval through inference_model: text-to-image and image-to-text search, features, CLI."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import blip
from blip.apis import RetrievalInferencer, build_inferencer
from coco_data import write_coco_karpathy
from tiny_models import randomize

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_retrieval.py'
TEXTS = ['a red square', 'A green square on white.', 'one blue box', 'a yellow square', 'a red box']


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    return randomize(blip.get_model(TINY_CONFIG), std=0.1, seed=2).eval()


@pytest.fixture(scope='module')
def images(tmp_path_factory):
    root = write_coco_karpathy(tmp_path_factory.mktemp('coco'), images_per_split=4)
    return [str(p) for p in sorted((root / 'test2014').iterdir())]


def brute_force_scores(model, image_feats, text_feats):
    """ITM match logit + cosine, and cosine, of every (image, text) pair, one pair at a time."""
    scores = torch.empty(len(image_feats['image_feat']), len(text_feats['text_feat']))
    with torch.no_grad():
        for i, (feat, embeds) in enumerate(zip(image_feats['image_feat'], image_feats['image_embeds'])):
            for j, (text_feat, ids, mask) in enumerate(
                zip(text_feats['text_feat'], text_feats['text_ids'], text_feats['text_attn_mask'])
            ):
                ids = ids.clone()
                ids[0] = model.tokenizer.enc_token_id
                state = model.text_encoder(ids[None], mask[None], image_embeds=embeds[None])[0, 0]
                scores[i, j] = model.itm_head(state[None])[0, 1] + feat @ text_feat
    return scores, image_feats['image_feat'] @ text_feats['text_feat'].t()


def expected_order(scores: torch.Tensor, cosine: torch.Tensor, candidates: int, topk: int) -> list[int]:
    """BLIP's ranking: the best ``candidates`` by cosine, ordered by their full score."""
    kept = cosine.topk(candidates).indices
    return kept[scores[kept].argsort(descending=True)][:topk].tolist()


def test_text_to_image_search(model, images):
    inferencer = build_inferencer(model)
    assert isinstance(inferencer, RetrievalInferencer)
    result = blip.inference_model(model, 'a red square', gallery=images, topk=3)
    assert result['text'] == 'a red square' and len(result['matches']) == 3

    image_feats = inferencer.extract_feat(images=images)
    text_feats = inferencer.extract_feat(texts=['a red square'])
    scores, cosine = brute_force_scores(model, image_feats, text_feats)
    expected = scores[:, 0]
    order = expected_order(expected, cosine[:, 0], candidates=model.topk, topk=3)
    assert [m['index'] for m in result['matches']] == order
    assert [m['image'] for m in result['matches']] == [images[i] for i in order]
    torch.testing.assert_close(
        torch.tensor([m['score'] for m in result['matches']]), expected[order], rtol=0, atol=1e-5
    )


def test_image_to_text_search_with_arrays_pil_and_paths(model, images):
    results = blip.inference_model(model, images[:2], gallery=TEXTS, topk=2)
    assert [r['image'] for r in results] == images[:2] and all(len(r['matches']) == 2 for r in results)
    inferencer = build_inferencer(model)
    scores, cosine = brute_force_scores(
        model, inferencer.extract_feat(images=images[:2]), inferencer.extract_feat(texts=TEXTS)
    )
    for row, cosine_row, result in zip(scores, cosine, results):
        order = expected_order(row, cosine_row, candidates=model.topk, topk=2)
        assert [m['index'] for m in result['matches']] == order
        assert [m['text'] for m in result['matches']] == [TEXTS[i] for i in order]
    bgr = np.asarray(Image.open(images[0]).convert('RGB'))[..., ::-1].copy()
    for query in (bgr, Image.open(images[0]), Path(images[0])):
        again = blip.inference_model(model, query, gallery=TEXTS, topk=2)
        assert [m['index'] for m in again['matches']] == [m['index'] for m in results[0]['matches']]


def test_search_a_precomputed_gallery(model, images):
    inferencer = build_inferencer(model)
    index = inferencer.extract_feat(images=images, batch_size=3)
    assert index['image_feat'].shape == (len(images), 16) and index['image_embeds'].shape == (
        len(images),
        17,
        64,
    )
    torch.testing.assert_close(index['image_feat'].norm(dim=1), torch.ones(len(images)))
    fresh = inferencer(['a red square', 'one blue box'], gallery=images, topk=4)
    cached = inferencer(['a red square', 'one blue box'], gallery=index, topk=4)
    assert [[m['index'] for m in r['matches']] for r in cached] == [
        [m['index'] for m in r['matches']] for r in fresh
    ]
    assert 'image' not in cached[0]['matches'][0]  # features only: matches name indices
    texts = inferencer.extract_feat(texts=TEXTS)
    assert texts['texts'][1] == 'a green square on white'  # cleaned as the test pipeline cleans captions
    assert texts['text_ids'].shape == (len(TEXTS), 35)


def test_fast_match_ranks_by_cosine(images):
    torch.manual_seed(0)
    model = randomize(blip.get_model(TINY_CONFIG, fast_match=True), std=0.1, seed=2).eval()
    inferencer = build_inferencer(model)
    result = inferencer('a red square', gallery=images, topk=4)[0]
    cosine = (
        inferencer.extract_feat(images=images)['image_feat']
        @ inferencer.extract_feat(texts=TEXTS[:1])['text_feat'].t()
    )[:, 0]
    assert [m['index'] for m in result['matches']] == cosine.argsort(descending=True).tolist()


def test_bad_retrieval_inputs_are_named(model, images):
    inferencer = build_inferencer(model)
    with pytest.raises(ValueError, match='needs a gallery'):
        inferencer('a red square')
    with pytest.raises(ValueError, match='query 1'):
        inferencer(['a red square', images[0]], gallery=images)
    with pytest.raises(ValueError, match='lack'):
        inferencer('a red square', gallery=inferencer.extract_feat(texts=TEXTS))


def test_infer_tool_scores_images_against_a_text(model, images, tmp_path, capsys):
    checkpoint = tmp_path / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, checkpoint)
    from blip.cli import infer

    results = infer.main(
        [str(TINY_CONFIG), *images, '--text', 'a red square', '--checkpoint', str(checkpoint)]
    )
    expected = blip.inference_model(model, 'a red square', gallery=images, topk=len(images))
    assert sorted(r['rank'] for r in results) == list(range(len(images)))
    for rank, match in enumerate(expected['matches']):
        assert results[match['index']]['rank'] == rank
    assert images[0] in capsys.readouterr().out
