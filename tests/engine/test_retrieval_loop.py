"""Retrieval scoring and loops: the batched ITM re-rank against a per-query loop (mmpretrain's
way), two processes against one, and the test/val loops through the tools."""

import importlib
import json
import socket
from pathlib import Path

import mmengine
import pytest
import torch
import torch.multiprocessing as mp
from mmengine.evaluator import Evaluator
from mmpretrain.structures import DataSample

import blip
from blip.apis import RetrievalInferencer
from blip.engine.retrieval_loop import LocalFeatures, evaluate_scores, retrieval_scores, rows_of_this_process
from blip.evaluation import RetrievalMetric
from blip.models.cpu_inference import optimize
from blip.models.retrieval_scoring import ranked
from coco_data import write_coco_karpathy
from tiny_models import randomize

REPO = Path(__file__).resolve().parents[2]
TINY_CONFIG = REPO / 'tests/data/configs/tiny_retrieval.py'
WORDS = 'a red blue green dog cat runs sits on the grass beach near two people bus street'.split()
NUM_IMAGES, TEXTS_PER_IMAGE = 7, 2  # odd: two processes get a padded, repeated item


def build_model(**overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    return randomize(blip.get_model(TINY_CONFIG, **overrides), std=0.1, seed=1).eval()


def items() -> tuple[torch.Tensor, list[DataSample]]:
    generator = torch.Generator().manual_seed(3)
    images = torch.randn(NUM_IMAGES, 3, 64, 64, generator=generator)
    samples = []
    for i in range(NUM_IMAGES):
        texts = [
            ' '.join(WORDS[j] for j in torch.randint(len(WORDS), (3 + k + i % 3,), generator=generator))
            for k in range(TEXTS_PER_IMAGE)
        ]
        text_ids = [i * TEXTS_PER_IMAGE + k for k in range(TEXTS_PER_IMAGE)]
        samples.append(
            DataSample(text=texts, image_id=i, gt_text_id=text_ids, gt_image_id=[i] * TEXTS_PER_IMAGE)
        )
    return images, samples


def local_features(model, indices: list[int], batch_size: int = 2) -> LocalFeatures:
    images, samples = items()
    local = LocalFeatures()
    with torch.no_grad():
        for start in range(0, len(indices), batch_size):
            batch = indices[start : start + batch_size]
            batch_samples = [samples[i] for i in batch]
            local.add(model.extract_feat(images[batch], batch_samples), batch_samples)
    return local


def per_query_scores(model, feats):
    """mmpretrain's re-rank: one image (or text) at a time, its image tokens repeated per candidate."""
    similarity = feats['image_feat'] @ feats['text_feat'].t()
    ids = feats['text_ids'].clone()
    ids[:, 0] = model.tokenizer.enc_token_id
    mask, embeds = feats['text_attn_mask'], feats['image_embeds']
    i2t = torch.full_like(similarity, -100.0)
    for i, sims in enumerate(similarity):
        top, texts = sims.topk(min(model.topk, len(sims)))
        states = model.text_encoder(ids[texts], mask[texts], image_embeds=embeds[i].repeat(len(texts), 1, 1))
        i2t[i, texts] = model.itm_head(states[:, 0])[:, 1] + top
    t2i = torch.full_like(similarity.t(), -100.0)
    for j, sims in enumerate(similarity.t()):
        top, images = sims.topk(min(model.topk, len(sims)))
        states = model.text_encoder(
            ids[j].repeat(len(images), 1), mask[j].repeat(len(images), 1), image_embeds=embeds[images]
        )
        t2i[j, images] = model.itm_head(states[:, 0])[:, 1] + top
    return i2t, t2i


def test_batched_rerank_equals_the_per_query_loop():
    model = build_model()
    local = local_features(model, list(range(NUM_IMAGES)))
    feats = {key: local.cat(key) for key in local.batches[0]}
    with torch.no_grad():
        i2t, t2i = model.score_matrices(feats)
        expected_i2t, expected_t2i = per_query_scores(model, feats)
        loop_i2t, loop_t2i, _ = retrieval_scores(model, local)
    assert (i2t == -100).sum() == NUM_IMAGES * (NUM_IMAGES * TEXTS_PER_IMAGE - model.topk)
    torch.testing.assert_close(i2t, expected_i2t, rtol=0, atol=1e-5)
    torch.testing.assert_close(t2i, expected_t2i, rtol=0, atol=1e-5)
    for ours, theirs in ((i2t, expected_i2t), (t2i, expected_t2i)):
        assert torch.equal(
            ours.argsort(dim=1, descending=True, stable=True),
            theirs.argsort(dim=1, descending=True, stable=True),
        )
    assert torch.equal(loop_i2t, i2t) and torch.equal(loop_t2i, t2i)  # the loop's path is the model's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def distributed_worker(rank: int, world_size: int, port: int, out_dir: str) -> None:
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=world_size)
    try:
        model = build_model()
        # mmengine's DefaultSampler: interleaved shards, padded with the first items.
        total = -(-NUM_IMAGES // world_size) * world_size
        indices = [i % NUM_IMAGES for i in range(total)][rank::world_size]
        with torch.no_grad():
            i2t, t2i, images = retrieval_scores(model, local_features(model, indices))
        metrics = evaluate_scores(Evaluator(RetrievalMetric(topk=(1, 2, 5))), i2t, t2i, images)
        losses, queue = one_loss_step(rank)
        result = dict(i2t=i2t, t2i=t2i, metrics=metrics, rows=rows_of_this_process(10))
        torch.save(dict(result, losses=losses, queue=queue), f'{out_dir}/{rank}.pt')
    finally:
        dist.destroy_process_group()


def one_loss_step(rank: int | None = None):
    """A training loss on image ``rank`` (both images without ``rank``), and the ITC queue after it."""
    model = build_model()
    images, samples = items()
    chosen = [0, 1] if rank is None else [rank]
    batch = [DataSample(text=samples[i].text[0], image_id=i) for i in chosen]
    losses = model.loss(images[chosen], batch)
    head = model.itc_head
    queue = dict(image=head.image_queue[:, :2].t(), ids=head.idx_queue[0, :2], pointer=head.queue_ptr)
    return {key: value.item() for key, value in losses.items()}, queue


def test_two_processes_score_as_one(tmp_path):
    mp.start_processes(
        distributed_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, start_method='spawn'
    )
    results = [torch.load(tmp_path / f'{rank}.pt', weights_only=True) for rank in range(2)]
    # Every process ends with the same matrices (the gathered scores of both).
    assert torch.equal(results[0]['i2t'], results[1]['i2t']) and torch.equal(
        results[0]['t2i'], results[1]['t2i']
    )
    assert results[0]['metrics'] == results[1]['metrics']
    assert [r['rows'] for r in results] == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]

    torch.set_num_threads(1)
    model = build_model()
    with torch.no_grad():
        i2t, t2i, images = retrieval_scores(
            model, local_features(model, list(range(NUM_IMAGES)), batch_size=3)
        )
    metrics = evaluate_scores(Evaluator(RetrievalMetric(topk=(1, 2, 5))), i2t, t2i, images)
    # Same candidates, every pair scored once by one process; the values differ at
    # most in the last bits, where batches of other sizes round differently.
    for name, ours in (('i2t', i2t), ('t2i', t2i)):
        theirs = results[0][name]
        assert torch.equal(theirs == -100, ours == -100)
        torch.testing.assert_close(theirs, ours, rtol=0, atol=1e-5)
        ranking = ours.argsort(dim=1, descending=True, stable=True)
        assert torch.equal(theirs.argsort(dim=1, descending=True, stable=True), ranking)
    assert results[0]['metrics'] == metrics
    assert 0 < metrics['R_mean'] < 100

    # Training across processes: one image each; the hard negatives come from the
    # other process (the only other image), and both queues receive both
    # processes' momentum features, as one process with both images does.
    losses, queue = one_loss_step()
    itm = [r['losses']['itm_loss'] for r in results]
    assert sum(itm) / 2 == pytest.approx(losses['itm_loss'], abs=1e-5)
    for result in results:
        torch.testing.assert_close(result['queue']['image'], queue['image'], rtol=0, atol=1e-6)
        assert result['queue']['ids'].tolist() == [0, 1] and int(result['queue']['pointer']) == 2


def test_items_without_retrieval_fields_are_named():
    with pytest.raises(KeyError, match=r"lacks \['gt_text_id'\]"):
        LocalFeatures().add({}, [DataSample(text=['a'], image_id=0)])


@pytest.fixture(scope='module')
def coco_root(tmp_path_factory):
    return write_coco_karpathy(tmp_path_factory.mktemp('coco'), images_per_split=5)


def data_options(root) -> list[str]:
    return [f'{loader}_dataloader.dataset.data_root={root}' for loader in ('train', 'val', 'test')]


def test_train_and_test_tools_run_the_retrieval_loops(coco_root, tmp_path):
    """tools/test.py, the model and the inferencer rank one checkpoint's test split identically.

    Three paths through the one scoring (``blip.models.retrieval_scoring``), with
    features from batches of other sizes (ties between the test split's repeated
    captions must stay ties), plain and with ``--cpu-optimize``.
    """
    from blip.cli import test, train

    options = [
        '--cfg-options',
        *data_options(coco_root),
        'train_cfg.max_epochs=1',
        'train_cfg.val_interval=1',
    ]
    train.main([str(TINY_CONFIG), '--work-dir', str(tmp_path), *options])
    checkpoint = str(tmp_path / 'epoch_1.pth')
    tool_scores, tool_metrics = {}, {}
    for variant, extra in (('plain', []), ('optimized', ['--cpu-optimize'])):
        out = tmp_path / f'{variant}.pkl'
        tool_metrics[variant] = test.main(
            [str(TINY_CONFIG), checkpoint, '--work-dir', str(tmp_path), '--out', str(out), *extra, *options]
        )
        dumped = mmengine.load(out)
        tool_scores[variant] = {
            d: torch.stack([s['pred_score'] for s in dumped if s['direction'] == d]) for d in ('i2t', 't2i')
        }
    metrics = tool_metrics['plain']
    keys = [f'{d}/R@{k}' for d in ('i2t', 't2i') for k in (1, 5, 10)] + ['i2t/R_mean', 't2i/R_mean', 'R_mean']
    assert set(metrics) == set(keys)
    assert tool_metrics['optimized'] == metrics

    # The same straight from the model, one image at a time.
    model = blip.get_model(TINY_CONFIG, pretrained=checkpoint)
    inferencer = RetrievalInferencer(model)
    records = json.loads((coco_root / 'annotations/coco_karpathy_test.json').read_text())
    captions = [caption for record in records for caption in record['caption']]
    assert len(set(captions)) < len(captions)  # repeated captions: tied scores
    feats, samples = [], []
    for image_id, record in enumerate(records):
        item = inferencer._prepare(dict(img_path=str(coco_root / record['image']), text=record['caption']))
        data = model.data_preprocessor(dict(inputs=[item['inputs']], data_samples=[item['data_samples']]))
        with torch.no_grad():
            feats.append(model.extract_feat(data['images'], data['data_samples']))
        first = sum(len(r['caption']) for r in records[:image_id])
        samples.append(
            DataSample(image_id=image_id, gt_text_id=list(range(first, first + len(record['caption']))))
        )
    feats = {key: torch.cat([f[key] for f in feats]) for key in feats[0]}
    with torch.no_grad():
        i2t, t2i = model.score_matrices(feats)
    metric = RetrievalMetric()
    gt_image = [s.image_id for s in samples for _ in s.gt_text_id]
    metric.process(
        None,
        [
            dict(direction='i2t', pred_score=row, gt_label=torch.tensor(s.gt_text_id))
            for row, s in zip(i2t, samples)
        ]
        + [
            dict(direction='t2i', pred_score=row, gt_label=torch.tensor([g])) for row, g in zip(t2i, gt_image)
        ],
    )
    assert metric.compute_metrics(metric.results) == pytest.approx(metrics)

    # Identical rankings: the tool plain and optimized, the model, and the inferencer
    # searching the images for each caption and the captions for each image.
    images = [str(coco_root / record['image']) for record in records]
    searched = {
        'i2t': inferencer(images, gallery=captions, topk=len(captions)),
        't2i': inferencer(captions, gallery=images, topk=len(images)),
    }
    for direction, ours in (('i2t', i2t), ('t2i', t2i)):
        ranking = ranked(ours).tolist()
        assert ranked(tool_scores['plain'][direction]).tolist() == ranking
        assert ranked(tool_scores['optimized'][direction]).tolist() == ranking
        assert [[m['index'] for m in result['matches']] for result in searched[direction]] == ranking


def test_benchmark_script_checks_that_both_methods_agree(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(REPO / 'tools'))
    benchmark_itm = importlib.import_module('benchmark_itm')
    result = benchmark_itm.main(['--size', 'tiny', '--images', '4', '--topk', '3', '--batch-size', '5'])
    assert result['max_abs_difference'] <= 1e-5 and result['speedup'] > 0
    assert 'ITM re-rank speedup vs per-query loop' in capsys.readouterr().out


def test_warmup_hook_raises_alpha_linearly():
    from types import SimpleNamespace

    from blip.engine import WarmupParamHook

    model = build_model()
    runner = SimpleNamespace(model=model, iter=0, max_iters=40, max_epochs=4)  # 10 iterations per epoch
    hook = WarmupParamHook(param_name='alpha', module_name='itc_head', warmup_epochs=2)
    hook.before_train(runner)
    seen = []
    for step in (0, 5, 10, 20, 30):
        runner.iter = step
        hook.before_train_iter(runner, batch_idx=step)
        seen.append(model.itc_head.alpha)
    assert seen == pytest.approx([0.0, 0.1, 0.2, 0.4, 0.4])
    with pytest.raises(AttributeError, match="no attribute 'beta'"):
        WarmupParamHook(param_name='beta', module_name='itc_head', warmup_epochs=1).before_train(runner)


@pytest.mark.parametrize('optimized', [False, True], ids=['plain', 'cpu_optimized'])
def test_one_or_two_threads_give_the_same_ranking(optimized):
    """The thread count changes nothing but float rounding: the same scores to 1e-5, the same ranking."""
    model = build_model()
    if optimized:
        optimize(model)
    threads_before = torch.get_num_threads()
    scores = {}
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.no_grad():
                i2t, t2i, _ = retrieval_scores(model, local_features(model, list(range(NUM_IMAGES))))
            scores[threads] = {'i2t': i2t, 't2i': t2i}
    finally:
        torch.set_num_threads(threads_before)
    for direction in ('i2t', 't2i'):
        torch.testing.assert_close(scores[1][direction], scores[2][direction], rtol=0, atol=1e-5)
        assert torch.equal(ranked(scores[1][direction]), ranked(scores[2][direction]))
