# BLIP-base pre-training as the authors ran it (github.com/salesforce/BLIP,
# configs/pretrain.yaml and pretrain.py): ViT-B/16 at 224 px, 75 image-text
# pairs per GPU, ITC with BLIP's queue and distillation alpha 0.4, ITM on
# hard negatives of the whole global batch, LM; the temperature clamped to
# [0.001, 0.5]; AdamW lr 3e-4 (warm-up over 3000 steps, x0.9 per epoch),
# weight decay 0.05, 20 epochs (_base_/schedules/pretrain.py). Data: the
# corpus of _base_/datasets/pretrain_corpus.py (data/pretrain); the test is
# zero-shot COCO retrieval. Options: --amp (mixed precision) and gradient
# checkpointing (--cfg-options model.image_encoder.with_cp=True
# model.text_encoder.with_cp=True model.text_decoder.with_cp=True). The
# checkpoints start every fine-tuning config (load_from), as the authors'
# model_base.pth does.
_base_ = [
    './_base_/models/blip-base_pretrain.py',
    './_base_/datasets/pretrain_corpus.py',
    './_base_/schedules/pretrain.py',
    './_base_/default_runtime.py',
]

custom_hooks = [
    *_base_.custom_hooks,
    # The corpus reorders its shards every epoch; a resumed run keeps the order.
    dict(type='CorpusEpochHook'),
    # The ITC distillation weight alpha rises from 0 over the first 2 epochs.
    dict(type='WarmupParamHook', param_name='alpha', module_name='itc_head', warmup_epochs=2),
]
# The paper's total batch (2880 pairs); tools/train.py --auto-scale-lr scales lr to another.
auto_scale_lr = dict(base_batch_size=2880)
