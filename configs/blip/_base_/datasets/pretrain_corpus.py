# A pre-training corpus in data/pretrain: the authors' JSON files
# (annotations/*.json, each a list of {"image": path, "caption": text} or
# {"url": url, "caption": text}; image paths relative to data/pretrain, or
# absolute) and WebDataset shards as img2dataset downloads them (shards/*.tar),
# e.g. BLIP's 14M corpus (COCO, Visual Genome, CC3M, CC12M, SBU), LAION-115M,
# or a corpus bootstrapped by tools/capfilt.py. The zero-shot test: COCO
# retrieval on the Karpathy test split (data/coco, as coco_retrieval.py).
_base_ = ['../data/pretrain.py']

data_root = 'data/pretrain'

train_dataloader = dict(dataset=dict(data_root=data_root, shards=['annotations/*.json', 'shards/*.tar']))
test_dataloader = dict(
    dataset=dict(type='COCORetrieval', data_root='data/coco', ann_file='annotations/coco_karpathy_test.json')
)
