"""Bootstrapping in small: the filter makes the pre-training corpus cleaner.

Steps 1-4 of tools/benchmark_bootstrap.py's story at ``--sizes small``: a tiny
BLIP pre-trained on (a)'s corpus (clean captions and a web corpus whose
alt-texts are labelled clean, partly wrong or wholly wrong) is fine-tuned into
a filter, and tools/capfilt.py filters the web corpus into (b)'s. The labels
tell whether (b)'s web texts are cleaner than (a)'s. The downstream half
(pre-training on each corpus, fine-tuning, testing) is the benchmark's table
in docs/user_guides/bootstrap.md: it takes minutes per seed.

In the suite's minute the filter learns little: measured for seeds 0-4 on 2
December 2026, its precision exceeded the noisy share (60%) by 11.4, 6.9,
12.3, 5.7 and 13.9 points (an earlier version measured
16.2, 7.3, 5.7, 11.4 and 1.8). The test asks for better than removing texts
at random; the full-size filters scored a clean text above a noisy one with
probability 0.72, 0.79 and 0.84 (seeds 0-2).

``--train-seeds 0,1,2,3,4`` runs the story for each seed (the default: 0).
"""

import pytest
import torch

from benchmark_bootstrap import (
    CAPTION,
    CAPTION_LENGTHS,
    REPO,
    RETRIEVAL,
    SIZES,
    capfilt,
    filter_quality,
    finetune,
    generate_data,
    pretrain,
)

SMALL = SIZES['small']
#: The noisy share (partly and wholly wrong) of the web texts, in percent.
NOISY_SHARE = 100 * sum(SMALL.web_noise)
#: Loaded by tools/capfilt.py but unused: the small story samples no captions.
CAPTIONER = REPO / 'checkpoints/blip-tiny_shapes_caption-7ad54e8c.pth'


@pytest.fixture(scope='module')
def filtered(train_seed, tmp_path_factory):
    """(a) pre-trained and fine-tuned into the filter, and the web corpus filtered
    by it, on one thread (the suite's CPU budget; about a minute)."""
    work = tmp_path_factory.mktemp('bootstrap')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        root = generate_data(work / 'data', SMALL, data_seed=0)
        corpus = ['annotations/coco_karpathy_train.json', 'web/shards/*.tar']
        pretrained = pretrain(root, work / 'pretrain', corpus, 3 * SMALL.clean + SMALL.web, SMALL, train_seed)
        filter = finetune(RETRIEVAL, pretrained, root, work / 'filter', SMALL, train_seed)
        summary = capfilt(root, work / 'capfilt', CAPTIONER, filter, SMALL, train_seed)
    finally:
        torch.set_num_threads(threads)
    quality = filter_quality(work / 'capfilt')
    print(f'seed {train_seed}: {summary}; filter {quality}')
    return summary, quality


def test_the_filtered_web_texts_are_cleaner(filtered):
    """Among the web texts the filter removed, the noisy share (its precision)
    exceeds their share of the web corpus: the texts it keeps are cleaner."""
    summary, quality = filtered
    assert 0 < summary['web_kept'] < summary['web_texts'], summary
    assert quality['precision'] > NOISY_SHARE, quality


def test_the_story_captioner_fits_the_longest_shapes_caption():
    """The story's captioner lengths hold every caption of a scene whole, prompt
    included, where the caption config's own (COCO's) cut the longest: CapFilt
    would otherwise sample cut-off captions into (b)'s corpus."""
    import numpy as np
    from mmengine.config import Config

    from blip.cli.generate_shapes import captions, sample_scene
    from blip.models import BlipTokenizer

    model = Config.fromfile(str(CAPTION)).model
    tokenizer = BlipTokenizer('bert-base-uncased')
    rng = np.random.RandomState(0)
    longest = max(
        len(tokenizer(model.prompt + caption).input_ids)
        for _ in range(500)
        for caption in captions(sample_scene(rng, 96))
    )
    assert model.max_txt_len < longest <= CAPTION_LENGTHS['model.max_txt_len'], longest
    assert longest <= CAPTION_LENGTHS['model.generation_cfg.max_length']
