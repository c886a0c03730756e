# The authors' retrieval fine-tuning (github.com/salesforce/BLIP,
# configs/retrieval_{coco,flickr}.yaml, train_retrieval.py) as changes to a
# retrieval config: from the pre-trained model_base.pth (README), its
# contrastive queues kept; lr 1e-5, weight decay 0.05, 6 epochs (the
# retrieval schedule's), 32 images per GPU on 8 GPUs; gradient checkpointing
# of the last 4 ViT layers; the temperature clamped at every step; the ITC
# distillation weight alpha warmed up over the first epoch.
_base_ = ['./official_checkpoints.py']

official_retrieval_model = dict(
    image_encoder=dict(with_cp=True, cp_layers=4),
    itc_head=dict(temperature_range=(0.001, 0.5)),
)
official_retrieval_optimizer = dict(lr=1e-5, weight_decay=0.05)
official_retrieval_hooks = [
    dict(type='RandomStateHook'),
    dict(type='WarmupParamHook', param_name='alpha', module_name='itc_head', warmup_epochs=1),
]
