"""BLIP visual grounding: the box a referring expression describes."""

import torch
from mmpretrain.structures import DataSample
from torchvision.ops import box_convert

from blip.registry import MODELS

from .base import BlipModel


@MODELS.register_module()
class BlipGrounding(BlipModel):
    """mmpretrain's BLIP grounding model (RefCOCO).

    The text encoder reads the expression alone (``[CLS]`` first); the
    multimodal encoder takes those states (its own embedding layer is unused)
    and cross-attends to the image tokens; the grounding head's decoder
    cross-attends to ``[image tokens; multimodal states]`` and writes the box as
    four bin tokens (see :class:`GroundingHead`).

    Args:
        tokenizer: Tokenizer config (``BlipTokenizer``).
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config, used text-only.
        multimodal_encoder: Text tower config, image-grounded.
        head: ``GroundingHead`` config (its tokenizer defaults to the model's).
        max_txt_len: Expressions are truncated to this many tokens.
        **kwargs: ``precision``, ``data_preprocessor``, ``init_cfg``: see
            :class:`BlipModel`.

    Samples need ``text`` (the expression); training also ``gt_bboxes`` and
    the ``img_shape`` the box is in. Prediction sets ``pred_bboxes``.
    """

    checkpoint_names = {'image_encoder': 'visual_encoder', 'head': 'grounding_head'}

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict,
        multimodal_encoder: dict,
        head: dict,
        max_txt_len: int = 128,
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, text_encoder, **kwargs)
        self.multimodal_encoder = MODELS.build(multimodal_encoder)
        self.head = MODELS.build(dict(tokenizer=self.tokenizer) | dict(head))
        self.max_txt_len = max_txt_len

    def encode_multimodal(self, text_ids, text_mask, image_embeds, **kwargs) -> torch.Tensor:
        """The multimodal encoder over the text encoder's states, cross-attending to the image."""
        text_embeds = self.encode_text(text_ids, text_mask)
        return self.multimodal_encoder(
            attention_mask=text_mask, embeds=text_embeds, image_embeds=image_embeds, **kwargs
        )

    def extract_feat(self, images: torch.Tensor, data_samples: list | None = None) -> torch.Tensor:
        """What the box decoder reads (see :meth:`encode`)."""
        return self.encode(images, _expressions(data_samples))[0]

    def encode(self, images: torch.Tensor, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the box decoder reads: ``[image tokens; multimodal text states]`` (B, N + L, C)
        and its mask (image tokens all attended, text padding masked)."""
        if len(texts) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} images but {len(texts)} expressions')
        image_embeds = self.encode_image(images)
        text = self.tokenize(texts, self.max_txt_len)
        multimodal_embeds = self.encode_multimodal(text.input_ids, text.attention_mask, image_embeds)
        image_mask = text.attention_mask.new_ones(image_embeds.shape[:2])
        memory = torch.cat([image_embeds, multimodal_embeds], dim=1)
        return memory, torch.cat([image_mask, text.attention_mask], dim=1)

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        """Box-token losses; each sample's first ``gt_bboxes`` box (``xyxy`` pixels
        of its ``img_shape`` ``(h, w)``) is the target."""
        memory, memory_mask = self.encode(images, _expressions(data_samples))
        boxes = torch.stack(
            [self._normalized_target(sample, index) for index, sample in enumerate(data_samples)]
        )
        boxes = box_convert(boxes.to(memory), 'xyxy', 'cxcywh')
        return self.head.loss(memory, memory_mask, boxes)

    @staticmethod
    def _normalized_target(sample: DataSample, index: int) -> torch.Tensor:
        if 'gt_bboxes' not in sample or 'img_shape' not in sample:
            raise KeyError(f'sample {index}: grounding training needs gt_bboxes and img_shape')
        box = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32).reshape(-1, 4)[0]
        height, width = sample.img_shape[:2]
        return box / box.new_tensor([width, height, width, height])

    def predict(self, images: torch.Tensor, data_samples: list | None = None) -> list[DataSample]:
        """Set ``pred_bboxes`` (1, 4): ``xyxy`` in pixels of the original image.

        The box is scaled to the input tensor's size and divided by the sample's
        ``scale_factor`` ``(w, h)`` (default ``(1, 1)``); ``gt_bboxes``, when
        present, are divided by it too, so both are in original pixels.
        """
        memory, memory_mask = self.encode(images, _expressions(data_samples))
        boxes = self.head.predict(memory, memory_mask)
        height, width = images.shape[-2:]
        for box, sample in zip(boxes, data_samples):
            scale_w, scale_h = sample.get('scale_factor', (1, 1))
            scale = box.new_tensor([scale_w, scale_h, scale_w, scale_h])
            sample.pred_bboxes = (box * box.new_tensor([width, height, width, height]) / scale)[None]
            if 'gt_bboxes' in sample:
                gt_bboxes = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32).reshape(-1, 4)
                sample.gt_bboxes = gt_bboxes / scale.to(gt_bboxes.device)
        return data_samples


def _expressions(data_samples: list | None) -> list[str]:
    if not data_samples:
        raise ValueError('BlipGrounding needs data samples with the expression as text')
    return [sample.text for sample in data_samples]
