# BLIP-large (ViT-L/16) captioning on COCO as the authors ran it: the released
# model_large_caption.pth (and the Hugging Face Salesforce/blip-image-captioning-large)
# decodes with their settings (configs/caption_coco.yaml), and training
# fine-tunes from the pre-trained model_large.pth with their ViT-L values
# (the file's comments): lr 2e-6, 16 images per GPU, gradient checkpointing of
# the last 5 ViT layers; 5 epochs on 8 GPUs as for ViT-B.
_base_ = ['./blip-base_caption_official.py', './_base_/models/blip-large.py']

model = dict(
    image_encoder=dict(_base_.large_image_encoder, with_cp=True, cp_layers=5),
    head=dict(decoder=dict(config=_base_.large_med_config)),
)

load_from = _base_.official_models + '/model_large.pth'

train_dataloader = dict(batch_size=16)
optim_wrapper = dict(optimizer=dict(lr=2e-6))
auto_scale_lr = dict(base_batch_size=128)
