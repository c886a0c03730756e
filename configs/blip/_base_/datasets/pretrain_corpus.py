# A pre-training corpus in data/pretrain: the authors' JSON files
# (annotations/*.json, each a list of {"image": path, "caption": text} or
# {"url": url, "caption": text}; image paths relative to data/pretrain, or
# absolute) and WebDataset shards as img2dataset downloads them (shards/*.tar),
# e.g. BLIP's 14M corpus (COCO, Visual Genome, CC3M, CC12M, SBU), LAION-115M,
# or a corpus bootstrapped by tools/capfilt.py. The zero-shot test: COCO
# retrieval on the Karpathy test split in data/coco (as coco_retrieval.py).
# Both below one data_root, which --cfg-options data_root=DIR moves.
_base_ = ['../data/pretrain.py']

data_root = 'data'

train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        shards=['pretrain/annotations/*.json', 'pretrain/shards/*.tar'],
        image_root='pretrain',
    )
)
test_dataloader = dict(
    dataset=dict(
        type='COCORetrieval',
        data_root=data_root,
        ann_file='coco/annotations/coco_karpathy_test.json',
        data_prefix='coco',
    )
)
