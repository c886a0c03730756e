"""ITCHead without a feature queue (queue_size=0): in-batch negatives only."""

import torch
import torch.nn.functional as F

from blip.models.itc_head import ITCHead


def features(rows: int, dims: int, seed: int) -> torch.Tensor:
    return F.normalize(torch.randn(rows, dims, generator=torch.Generator().manual_seed(seed)), dim=1)


def test_no_queue_loss_is_the_in_batch_contrastive_loss():
    head = ITCHead(embed_dim=8, queue_size=0, use_distill=False)
    image_feat, text_feat = features(4, 8, 0), features(4, 8, 1)
    image_feat_m, text_feat_m = features(4, 8, 2), features(4, 8, 3)
    image_ids = torch.tensor([5, 6, 5, 7])  # rows 0 and 2 show the same image
    loss = head.loss(image_feat, text_feat, image_feat_m, text_feat_m, image_ids)['itc_loss']

    # By hand: each row's targets spread evenly over the batch rows of its image.
    same_image = (image_ids[:, None] == image_ids[None]).float()
    targets = same_image / same_image.sum(dim=1, keepdim=True)
    temp = head.temp.detach()
    i2t = -(F.log_softmax(image_feat @ text_feat_m.T / temp, dim=1) * targets).sum(dim=1).mean()
    t2i = -(F.log_softmax(text_feat @ image_feat_m.T / temp, dim=1) * targets).sum(dim=1).mean()
    torch.testing.assert_close(loss, (i2t + t2i) / 2)


def test_no_queue_keeps_the_buffers_empty_and_the_state_dict_keys():
    head = ITCHead(embed_dim=8, queue_size=0)
    head.loss(
        features(2, 8, 0), features(2, 8, 1), features(2, 8, 2), features(2, 8, 3), torch.tensor([1, 2])
    )
    assert head.image_queue.shape == (8, 0) and head.idx_queue.shape == (1, 0)
    assert int(head.queue_ptr) == 0
    assert head.state_dict().keys() == ITCHead(embed_dim=8, queue_size=4).state_dict().keys()
