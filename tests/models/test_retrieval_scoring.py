"""The one retrieval scoring (``blip.models.retrieval_scoring``): ITC candidates of each
query, each pair re-ranked once, scores ``ITM + ITC`` or -100, ties by index."""

import torch

from blip.models.retrieval_scoring import NOT_RERANKED, ranked, rerank, select_candidates

SIMILARITY = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.8, 0.3]])  # 2 images x 3 texts


def test_candidate_pairs_cover_both_directions_once():
    candidates = select_candidates(SIMILARITY, topk=2)
    assert candidates.best['i2t'].tolist() == [[0, 2], [1, 2]]
    assert candidates.best['t2i'].tolist() == [[0, 1], [1, 0], [0, 1]]
    # Union of both directions, each pair once, sorted by image then text.
    pairs = candidates.pairs
    assert pairs.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert torch.equal(pairs[candidates.pair_rows['i2t']][..., 1], candidates.best['i2t'])
    assert torch.equal(pairs[candidates.pair_rows['t2i']][..., 0], candidates.best['t2i'])


def test_one_direction_scores_only_its_candidates():
    candidates = select_candidates(SIMILARITY, topk=1, directions=('t2i',))
    assert list(candidates.best) == ['t2i']
    assert candidates.pairs.tolist() == [[0, 0], [0, 2], [1, 1]]


def test_scores_are_match_logit_plus_similarity_for_candidates_and_minus_100_elsewhere():
    seen = []

    def match_logits(pairs):
        seen.append(pairs.clone())
        return (10 * pairs[:, 0] + pairs[:, 1]).float()  # a logit that names its pair

    scores = rerank(SIMILARITY, topk=2, match_logits=match_logits)
    assert len(seen) == 1 and len(seen[0]) == 6  # each distinct pair once, all in one call
    expected_i2t = torch.full((2, 3), NOT_RERANKED)
    for image, texts in enumerate([[0, 2], [1, 2]]):
        for text in texts:
            expected_i2t[image, text] = 10 * image + text + SIMILARITY[image, text]
    torch.testing.assert_close(scores['i2t'], expected_i2t)
    expected_t2i = torch.full((3, 2), NOT_RERANKED)
    for text, images in enumerate([[0, 1], [1, 0], [0, 1]]):
        for image in images:
            expected_t2i[text, image] = 10 * image + text + SIMILARITY[image, text]
    torch.testing.assert_close(scores['t2i'], expected_t2i)


def test_ties_rank_the_lower_index_first():
    """Equal scores are ranked one documented way: by index, for candidates and results alike."""
    tied = torch.tensor([[0.5, 0.7, 0.5, 0.7, 0.5]])
    assert ranked(tied).tolist() == [[1, 3, 0, 2, 4]]
    assert ranked(tied, 3).tolist() == [[1, 3, 0]]
    # A row of many equal scores: topk's order among ties is unspecified, ours is not.
    flat = torch.zeros(1, 1000)
    assert ranked(flat, 5).tolist() == [[0, 1, 2, 3, 4]]
    assert select_candidates(flat, topk=4, directions=('i2t',)).best['i2t'].tolist() == [[0, 1, 2, 3]]
