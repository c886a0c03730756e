"""Validation and test loops of image-text retrieval.

Retrieval ranks every image against every text, so it cannot score batch by
batch. The loops (1) compute each image's and text's features once, batch by
batch; (2) gather the contrastive features of all processes and form the ITC
similarity of all pairs (one matrix product); (3) pick the ``topk`` candidates
of every image and text; (4) score the candidate pairs with ITM, each process
the pairs of the images it holds (image tokens never leave their process),
batched across queries; (5) gather the scores into the i2t and t2i matrices,
the same on every process and equal to a one-process run; (6) hand each
process an equal share of the rows for the metric.
"""

from collections.abc import Sequence

import torch
from mmengine.dist import all_gather, all_gather_object, get_rank, get_world_size
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop, autocast
from mmpretrain.structures import DataSample

from blip.registry import LOOPS

#: Fields every test item needs (a retrieval dataset with ``test_mode=True``).
REQUIRED_FIELDS = ('image_id', 'text', 'gt_text_id')


def gather_rows(tensor: torch.Tensor) -> list[torch.Tensor]:
    """Every process's ``tensor`` (first dimensions may differ), in rank order."""
    if get_world_size() == 1:
        return [tensor]
    sizes = [int(size) for size in all_gather(torch.tensor(tensor.shape[0], device=tensor.device))]
    padded = tensor.new_zeros((max(sizes), *tensor.shape[1:]))
    padded[: tensor.shape[0]] = tensor
    return [part[:size] for part, size in zip(all_gather(padded), sizes)]


class LocalFeatures:
    """The features of the items this process has seen, and the items' labels."""

    def __init__(self, offload_embeds: bool = False):
        self.offload_embeds = offload_embeds
        self.batches: list[dict[str, torch.Tensor]] = []
        self.images: list[dict] = []

    def add(self, feats: dict[str, torch.Tensor], data_samples: Sequence[DataSample]) -> None:
        for index, sample in enumerate(data_samples):
            missing = [field for field in REQUIRED_FIELDS if field not in sample]
            if missing:
                raise KeyError(
                    f'retrieval loop: data sample {index} lacks {missing}; use a retrieval dataset with '
                    "test_mode=True and PackInputs(algorithm_keys=['text', 'gt_text_id', 'gt_image_id'], "
                    "meta_keys=['image_id'])"
                )
            texts = [sample.text] if isinstance(sample.text, str) else list(sample.text)
            text_ids = [int(i) for i in _as_list(sample.gt_text_id)]
            if len(texts) != len(text_ids):
                raise ValueError(
                    f'retrieval loop: data sample {index} has {len(texts)} texts but gt_text_id {text_ids}'
                )
            self.images.append(dict(image_id=int(sample.image_id), text=texts, gt_text_id=text_ids))
        if self.offload_embeds:
            feats = {key: value.cpu() if key.endswith('_embeds') else value for key, value in feats.items()}
        self.batches.append(feats)

    def cat(self, key: str) -> torch.Tensor:
        return torch.cat([batch[key] for batch in self.batches])


def _as_list(value) -> list:
    if isinstance(value, torch.Tensor):
        return value.flatten().tolist()
    return list(value) if isinstance(value, (list, tuple)) else [value]


def retrieval_scores(model, local: LocalFeatures) -> tuple[torch.Tensor, torch.Tensor, list[dict]]:
    """The i2t and t2i score matrices of all processes' items, on every process.

    Args:
        model: A :class:`blip.models.BlipRetrieval` (unwrapped).
        local: This process's features and items (from :class:`LocalFeatures`).

    Returns:
        ``(i2t, t2i, images)``: ``(num_images, num_texts)`` and ``(num_texts,
        num_images)`` scores indexed by ``image_id`` and ``gt_text_id``, and the
        items (``image_id``, ``text``, ``gt_text_id``) in ``image_id`` order.
    """
    rank = get_rank()
    image_ids = torch.tensor(
        [item['image_id'] for item in local.images], dtype=torch.long, device=model.device
    )
    text_ids = torch.tensor(
        [i for item in local.images for i in item['gt_text_id']], dtype=torch.long, device=model.device
    )
    items = {}
    for part in all_gather_object(local.images) if get_world_size() > 1 else [local.images]:
        for item in part:  # a sampler may pad with repeated items: keep one of each
            items.setdefault(item['image_id'], item)
    num_images = len(items)
    num_texts = sum(len(item['gt_text_id']) for item in items.values())
    _check_numbering(items, num_images, num_texts)

    image_owner = torch.full((num_images,), -1, dtype=torch.long, device=model.device)
    image_feat = _place(gather_rows(local.cat('image_feat')), gather_rows(image_ids), num_images, image_owner)
    text_feat = _place(gather_rows(local.cat('text_feat')), gather_rows(text_ids), num_texts)
    items = [items[i] for i in range(num_images)]
    all_text_ids = _place(gather_rows(local.cat('text_ids')), gather_rows(text_ids), num_texts)
    if model.fast_match:
        scores = model.scores(image_feat @ text_feat.t(), all_text_ids, match_logits=None)
        return scores['i2t'], scores['t2i'], items
    text_mask = _place(gather_rows(local.cat('text_attn_mask')), gather_rows(text_ids), num_texts)
    local_row = torch.full((num_images,), -1, dtype=torch.long, device=model.device)
    local_row[image_ids] = torch.arange(len(image_ids), device=model.device)

    def match_logits(pairs: torch.Tensor) -> torch.Tensor:
        # Each pair is scored by the process holding its image's tokens.
        pair_owner = image_owner[pairs[:, 0]]
        mine = pairs[pair_owner == rank]
        logits = model.match_logits(
            local.cat('image_embeds'), all_text_ids, text_mask, local_row[mine[:, 0]], mine[:, 1]
        )
        all_logits = torch.empty(len(pairs), dtype=logits.dtype, device=logits.device)
        for owner, part in enumerate(gather_rows(logits)):
            all_logits[pair_owner == owner] = part
        return all_logits

    scores = model.scores(image_feat @ text_feat.t(), all_text_ids, match_logits)
    return scores['i2t'], scores['t2i'], items


def _check_numbering(items: dict, num_images: int, num_texts: int) -> None:
    if sorted(items) != list(range(num_images)):
        raise ValueError(f'retrieval loop: image_id must number the images 0..{num_images - 1}')
    text_ids = sorted(i for item in items.values() for i in item['gt_text_id'])
    if text_ids != list(range(num_texts)):
        raise ValueError(f'retrieval loop: gt_text_id must number the texts 0..{num_texts - 1}, once each')


def _place(
    parts: list[torch.Tensor], indices: list[torch.Tensor], size: int, owner: torch.Tensor | None = None
):
    """Rows of every process at their global index (the first process holding one owns it)."""
    placed = parts[0].new_empty((size, *parts[0].shape[1:]))
    for rank in reversed(range(len(parts))):
        placed[indices[rank]] = parts[rank]
        if owner is not None:
            owner[indices[rank]] = rank
    return placed


def rows_of_this_process(num_rows: int) -> list[int]:
    """Rows ``rank, rank + W, ...``, padded by wrapping to an equal count per process.

    mmengine collects metric results by interleaving the processes' lists and
    cutting at the dataset size, so equal counts in this layout give every row
    exactly once, in order.
    """
    rank, world_size = get_rank(), get_world_size()
    per_process = -(-num_rows // world_size)
    return [(rank + k * world_size) % num_rows for k in range(per_process)]


def evaluate_scores(
    evaluator, i2t: torch.Tensor, t2i: torch.Tensor, images: list[dict], chunk: int = 256
) -> dict:
    """Feed this process's share of the rows of both directions to ``evaluator``."""
    gt_image = {text_id: item['image_id'] for item in images for text_id in item['gt_text_id']}
    texts = {text_id: text for item in images for text_id, text in zip(item['gt_text_id'], item['text'])}
    num_images, num_texts = i2t.shape
    rows = rows_of_this_process(num_images + num_texts)
    for start in range(0, len(rows), chunk):
        samples = []
        for row in rows[start : start + chunk]:
            if row < num_images:
                sample = DataSample(image_id=row, direction='i2t').set_gt_label(images[row]['gt_text_id'])
                sample.set_pred_score(i2t[row].cpu())
            else:
                text_id = row - num_images
                sample = DataSample(text=texts[text_id], direction='t2i').set_gt_label(gt_image[text_id])
                sample.set_pred_score(t2i[text_id].cpu())
            samples.append(sample)
        evaluator.process(samples, None)
    return evaluator.evaluate(num_images + num_texts)


def run_retrieval_evaluation(loop, stage: str) -> dict:
    """Run ``loop`` (a val or test loop) over its dataloader; ``stage`` names the hooks."""
    runner = loop.runner
    runner.call_hook(f'before_{stage}')
    runner.call_hook(f'before_{stage}_epoch')
    runner.model.eval()
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    local = LocalFeatures(loop.offload_embeds)
    for index, data_batch in enumerate(loop.dataloader):
        runner.call_hook(f'before_{stage}_iter', batch_idx=index, data_batch=data_batch)
        with torch.no_grad(), autocast(enabled=loop.fp16), model.inference_precision(model.device):
            data = model.data_preprocessor(data_batch, False)
            local.add(model.extract_feat(data['images'], data['data_samples']), data['data_samples'])
        runner.call_hook(f'after_{stage}_iter', batch_idx=index, data_batch=data_batch, outputs=[])
    if not local.batches:
        raise ValueError(f'retrieval {stage}: the dataloader gave no data')
    with torch.no_grad(), autocast(enabled=loop.fp16), model.inference_precision(model.device):
        i2t, t2i, images = retrieval_scores(model, local)
    metrics = evaluate_scores(loop.evaluator, i2t.float(), t2i.float(), images)
    runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
    runner.call_hook(f'after_{stage}')
    return metrics


@LOOPS.register_module()
class RetrievalValLoop(ValLoop):
    """Validation of image-text retrieval: features once, ITC ranking, ITM re-rank, recall.

    The dataset gives one item per image with its texts (``test_mode=True``).

    Args:
        runner: The runner.
        dataloader: The dataloader or its config.
        evaluator: The evaluator or its config (``RetrievalMetric``).
        fp16: Run under automatic mixed precision.
        offload_embeds: Keep the image tokens of the split on the CPU until
            their pairs are re-ranked (videos: 8 frames of tokens each).
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False, offload_embeds: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        self.offload_embeds = offload_embeds

    def run(self) -> dict:
        return run_retrieval_evaluation(self, 'val')


@LOOPS.register_module()
class RetrievalTestLoop(TestLoop):
    """Test of image-text retrieval; arguments as :class:`RetrievalValLoop`."""

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False, offload_embeds: bool = False):
        super().__init__(runner, dataloader, evaluator, fp16)
        self.offload_embeds = offload_embeds

    def run(self) -> dict:
        return run_retrieval_evaluation(self, 'test')
