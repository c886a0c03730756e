# BLIP-large pre-training: blip-base_pretrain.py with the ViT-L/16 tower
# (stochastic depth 0.1, as the authors' create_vit gives it) and the
# paper's ViT-L learning rate, 2e-4 (arXiv:2201.12086, section 4.1: total
# batch 2400 = 75 pairs x 32 GPUs). Gradient checkpointing of the ViT is on:
# 75 pairs of 24-layer ViT-L activations per GPU.
_base_ = ['./blip-base_pretrain.py', './_base_/models/blip-large.py']

model = dict(
    image_encoder=dict(_base_.large_image_encoder, with_cp=True),
    text_encoder=dict(config=_base_.large_med_config),
    text_decoder=dict(config=_base_.large_med_config),
)

optim_wrapper = dict(optimizer=dict(lr=2e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / 2e-4, by_epoch=False, begin=0, end=3000),
    dict(type='ExponentialLR', gamma=0.9, by_epoch=True, begin=0, end=20),
]
auto_scale_lr = dict(base_batch_size=2400)
