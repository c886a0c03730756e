"""Speed of the retrieval ITM re-rank: our batched scoring against a per-query loop.

    python tools/benchmark_itm.py                      # small towers, about a minute on 2 CPU cores
    python tools/benchmark_itm.py --size base --images 16 --device cuda   # the real ViT-B/384 + BERT-base

Both methods score the same candidates with the same deterministic random
weights: the ``topk`` best texts of every image and images of every text by
contrastive similarity, re-scored by the image-text matching head.

* per-query loop (mmpretrain's and BLIP's evaluation): one query at a time, its
  image tokens repeated once per candidate, so the cross-attention keys and
  values of an image are computed ``topk`` times per query;
* batched (``BlipRetrieval.score_matrices``): the candidate pairs of all
  queries, each distinct pair once, ``--batch-size`` pairs per forward pass,
  each image's keys and values computed once per pass, and padding no text
  of the pass needs cut (texts are padded to 35 tokens, as BLIP pads them).

The script checks that both give the same score matrices (to float rounding;
it says whether they are bit-identical) and prints pairs per second, where a
pair is one (query, candidate) score of the two matrices.
"""

import argparse
import time

import torch

import _common  # noqa: F401  (makes `blip` importable from a clone)

SIZES = {
    # The tests' tiny towers: a check that the script runs.
    'tiny': dict(dims=32, layers=2, heads=2, ffn=64, image_size=64),
    # Small towers: a CPU run in about a minute.
    'small': dict(dims=256, layers=4, heads=4, ffn=1024, image_size=224),
    # BLIP-base: ViT-B/16 at 384 px and BERT-base.
    'base': dict(dims=768, layers=12, heads=12, ffn=3072, image_size=384),
}
WORDS = (
    'a the dog cat man woman red blue green runs sits on near with two people bus street grass beach'.split()
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='ITM re-rank speed: batched vs per-query loop')
    parser.add_argument('--size', choices=sorted(SIZES), default='small', help='tower sizes')
    parser.add_argument('--images', type=int, default=8, help='images in the gallery')
    parser.add_argument('--texts-per-image', type=int, default=5)
    parser.add_argument('--topk', type=int, default=8, help='re-ranked candidates per query')
    parser.add_argument('--batch-size', type=int, default=64, help='pairs per batched forward pass')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (torch.set_num_threads)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def build_model(size: str, topk: int, batch_size: int, seed: int):
    """A BlipRetrieval of the given size with deterministic random weights (std 0.05)."""
    from mmengine.registry import DefaultScope

    from blip.registry import MODELS

    spec = SIZES[size]
    dims = spec['dims']
    med_config = dict(
        hidden_size=dims,
        num_hidden_layers=spec['layers'],
        num_attention_heads=spec['heads'],
        intermediate_size=spec['ffn'],
        encoder_width=dims,
    )
    config = dict(
        type='BlipRetrieval',
        tokenizer=dict(type='BlipTokenizer', name_or_path='bert-base-uncased'),
        image_encoder=dict(
            type='VisionTransformer',
            arch=dict(
                embed_dims=dims,
                num_layers=spec['layers'],
                num_heads=spec['heads'],
                feedforward_channels=spec['ffn'],
            ),
            img_size=spec['image_size'],
        ),
        text_encoder=dict(type='TextTransformer', config=med_config),
        embed_dim=256,
        itc_head=dict(type='ITCHead', queue_size=64),
        itm_head=dict(type='ITMHead', with_pooler=False),
        topk=topk,
        rerank_batch_size=batch_size,
    )
    with DefaultScope.overwrite_default_scope('blip'):
        model = MODELS.build(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if 'LayerNorm' in name or '.ln' in name or name.startswith(('ln', 'image_encoder.ln')):
                continue
            param.copy_(torch.randn(param.shape, generator=generator) * 0.05)
    return model.eval()


def inputs(num_images: int, texts_per_image: int, image_size: int, seed: int):
    generator = torch.Generator().manual_seed(seed + 1)
    images = torch.randn(num_images, 3, image_size, image_size, generator=generator)
    texts = [
        ' '.join(
            WORDS[j]
            for j in torch.randint(
                len(WORDS), (int(torch.randint(5, 15, (1,), generator=generator)),), generator=generator
            )
        )
        for _ in range(num_images * texts_per_image)
    ]
    return images, texts


def per_query_scores(model, feats):
    """mmpretrain's and BLIP's re-rank: one query at a time, image tokens repeated per candidate."""
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


def timed(function, device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    result = function()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - start


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    import blip  # noqa: F401
    from blip.models.retrieval_scoring import select_candidates

    device = torch.device(args.device)
    model = build_model(args.size, args.topk, args.batch_size, args.seed).to(device)
    images, texts = inputs(args.images, args.texts_per_image, SIZES[args.size]['image_size'], args.seed)
    with torch.no_grad():
        feats = model.extract_feat(images.to(device), texts=texts)
        num_images, num_texts = len(images), len(texts)
        candidates = select_candidates(feats['image_feat'] @ feats['text_feat'].t(), args.topk)
        i2t_pairs, t2i_pairs = (candidates.best[d].numel() for d in ('i2t', 't2i'))
        pairs = i2t_pairs + t2i_pairs
        # Warm-up (kernels, allocator): a few pairs each way.
        model.match_logits(
            feats['image_embeds'], feats['text_ids'], feats['text_attn_mask'], *candidates.pairs[:8].t()
        )
        per_query_scores(model, {key: value[:2] for key, value in feats.items()})
        (batched_i2t, batched_t2i), batched_time = timed(lambda: model.score_matrices(feats), device)
        (loop_i2t, loop_t2i), loop_time = timed(lambda: per_query_scores(model, feats), device)

    difference = max((batched_i2t - loop_i2t).abs().max().item(), (batched_t2i - loop_t2i).abs().max().item())
    bitwise = torch.equal(batched_i2t, loop_i2t) and torch.equal(batched_t2i, loop_t2i)
    same_ranking = all(
        torch.equal(
            a.argsort(dim=1, descending=True, stable=True), b.argsort(dim=1, descending=True, stable=True)
        )
        for a, b in ((batched_i2t, loop_i2t), (batched_t2i, loop_t2i))
    )
    assert difference <= 1e-4 and same_ranking, (
        f'batched and per-query scores differ (max |diff| {difference:.2e})'
    )

    result = dict(
        batched_pairs_per_s=pairs / batched_time,
        loop_pairs_per_s=pairs / loop_time,
        speedup=loop_time / batched_time,
        max_abs_difference=difference,
        bitwise_identical=bitwise,
    )
    print(
        f'model: {args.size} towers, {num_images} images, {num_texts} texts, '
        f'topk {args.topk}, device {device}'
    )
    print(
        f'pairs scored: {pairs} ({i2t_pairs} i2t + {t2i_pairs} t2i); '
        f'distinct pairs run through ITM by the batched path: {len(candidates.pairs)}'
    )
    print(f'per-query loop: {loop_time:8.2f} s  {result["loop_pairs_per_s"]:9.1f} pairs/s')
    print(f'batched:        {batched_time:8.2f} s  {result["batched_pairs_per_s"]:9.1f} pairs/s')
    print(
        f'identical scores: max |diff| {difference:.1e}, same rankings, '
        f'{"bit-identical" if bitwise else "equal to float rounding"}'
    )
    print(f'ITM re-rank speedup vs per-query loop: {result["speedup"]:.2f}x')
    return result


if __name__ == '__main__':
    main()
