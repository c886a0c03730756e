# BLIP-base image-text retrieval on COCO as the authors ran it
# (configs/retrieval_coco.yaml of github.com/salesforce/BLIP): the released
# model_base_retrieval_coco.pth (and the Hugging Face Salesforce/blip-itm-base-coco)
# ranks with their settings (ITM re-ranks the 256 best ITC candidates), and
# training fine-tunes from the pre-trained checkpoint they started from
# (README: model_base.pth) with their hyper-parameters
# (_base_/official_retrieval.py): hard negatives drawn from every GPU's batch.
_base_ = ['./blip-base_retrieval.py', './_base_/official_retrieval.py']

model = dict(_base_.official_retrieval_model, negative_all_rank=True, topk=256)

load_from = _base_.official_models + '/model_base.pth'
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=_base_.official_retrieval_optimizer)
custom_hooks = _base_.official_retrieval_hooks
# 8 GPUs x 32 images; tools/train.py --auto-scale-lr scales lr to another total batch.
auto_scale_lr = dict(base_batch_size=256)
