# BLIP-large (ViT-L/16) image-text retrieval on COCO as the authors ran it: the
# released model_large_retrieval_coco.pth (and the Hugging Face
# Salesforce/blip-itm-large-coco) ranks with their settings
# (configs/retrieval_coco.yaml), and training fine-tunes from the pre-trained
# model_large.pth with their ViT-L values (the file's comments): lr 5e-6, 16
# images per GPU, gradient checkpointing of the last 12 ViT layers.
_base_ = ['./blip-base_retrieval_official.py', './_base_/models/blip-large.py']

model = dict(
    image_encoder=dict(_base_.large_image_encoder, with_cp=True, cp_layers=12),
    text_encoder=dict(config=_base_.large_med_config),
)

load_from = _base_.official_models + '/model_large.pth'

train_dataloader = dict(batch_size=16)
val_dataloader = dict(batch_size=32)
test_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=5e-6))
auto_scale_lr = dict(base_batch_size=128)
