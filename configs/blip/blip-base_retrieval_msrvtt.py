# BLIP-base zero-shot text-video retrieval on MSRVTT (1k-A test split) with the
# COCO retrieval weights, as BLIP evaluates it: 8 uniformly sampled frames per
# video; a video's ITC feature is the mean of its frames' projected class
# tokens and ITM attends to all its frames' tokens; the 128 best candidates of
# each query are re-ranked. Test only (no training data): python tools/test.py.
_base_ = [
    './_base_/models/blip-base_retrieval.py',
    './_base_/datasets/msrvtt_retrieval.py',
    './_base_/default_runtime.py',
]

# A video has 8 x 577 image tokens: fewer pairs per ITM pass, and the split's
# tokens wait on the CPU until their pairs are scored (RetrievalTestLoop).
model = dict(topk=128, rerank_batch_size=16)
test_cfg = dict(offload_embeds=True)
