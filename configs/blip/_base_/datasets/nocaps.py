# NoCaps: data/nocaps/annotations/nocaps_val_4500_captions.json and the images
# in data/nocaps/images/. Evaluation only (no training split). Test captions
# are held by the NoCaps evaluation server, so val serves as val and as test
# here. For a server submission, set test_dataloader.dataset.ann_file to
# 'annotations/nocaps_test_image_info.json': the metric then only writes the
# predictions file ([{image_id, caption}]).
_base_ = ['../data/caption.py']

data_root = 'data/nocaps'

train_dataloader = None
val_dataloader = dict(
    dataset=dict(
        type='NoCaps',
        data_root=data_root,
        ann_file='annotations/nocaps_val_4500_captions.json',
        data_prefix=dict(img_path='images'),
    )
)
test_dataloader = val_dataloader
