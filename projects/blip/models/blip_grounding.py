"""BLIP visual grounding: the box a referring expression describes."""

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torchvision.ops import box_convert

from blip.registry import MODELS, TOKENIZER


@MODELS.register_module()
class BlipGrounding(BaseModel):
    """mmpretrain's BLIP grounding model (RefCOCO).

    The text encoder reads the expression alone (``[CLS]`` first); the
    multimodal encoder takes those states (its own embedding layer is unused)
    and cross-attends to the image tokens; the grounding head's decoder
    cross-attends to ``[image tokens; multimodal states]`` and writes the box as
    four bin tokens (see :class:`GroundingHead`).

    Args:
        visual_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config, used text-only.
        multimodal_encoder: Text tower config, image-grounded.
        head: ``GroundingHead`` config (its tokenizer defaults to the model's).
        tokenizer: Tokenizer config (``BlipTokenizer``).
        max_txt_len: Expressions are truncated to this many tokens.
        data_preprocessor: Batch preparation config.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        visual_encoder: dict,
        text_encoder: dict,
        multimodal_encoder: dict,
        head: dict,
        tokenizer: dict,
        max_txt_len: int = 128,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ):
        data_preprocessor = dict(type='BlipDataPreprocessor') | dict(data_preprocessor or {})
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.tokenizer = TOKENIZER.build(tokenizer)
        self.visual_encoder = MODELS.build(visual_encoder)
        self.text_encoder = MODELS.build(text_encoder)
        self.multimodal_encoder = MODELS.build(multimodal_encoder)
        self.grounding_head = MODELS.build(dict(tokenizer=self.tokenizer) | dict(head))
        self.max_txt_len = max_txt_len

    def forward(self, images: torch.Tensor, data_samples: list | None = None, mode: str = 'loss'):
        """``mode``: ``'loss'`` (dict of losses; samples need ``text``,
        ``gt_bboxes`` and the ``img_shape`` the box is in) or ``'predict'``
        (samples get ``pred_bboxes``; they need ``text``)."""
        if mode == 'loss':
            return self.loss(images, data_samples)
        if mode == 'predict':
            return self.predict(images, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}".')

    def encode(self, images: torch.Tensor, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """What the box decoder reads: ``[image tokens; multimodal text states]`` (B, N + L, C)
        and its mask (image tokens all attended, text padding masked)."""
        if len(texts) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} images but {len(texts)} expressions')
        image_embeds = self.visual_encoder(images)[0]
        text = self.tokenizer(
            texts, padding='longest', truncation=True, max_length=self.max_txt_len, return_tensors='pt'
        ).to(image_embeds.device)
        text_embeds = self.text_encoder(text.input_ids, text.attention_mask)
        multimodal_embeds = self.multimodal_encoder(
            attention_mask=text.attention_mask, embeds=text_embeds, image_embeds=image_embeds
        )
        image_mask = text.attention_mask.new_ones(image_embeds.shape[:2])
        memory = torch.cat([image_embeds, multimodal_embeds], dim=1)
        return memory, torch.cat([image_mask, text.attention_mask], dim=1)

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        """Box-token losses; each sample's first ``gt_bboxes`` box (``xyxy`` pixels
        of its ``img_shape`` ``(h, w)``) is the target."""
        memory, memory_mask = self.encode(images, [sample.text for sample in data_samples])
        boxes = torch.stack(
            [self._normalized_target(sample, index) for index, sample in enumerate(data_samples)]
        )
        boxes = box_convert(boxes.to(memory), 'xyxy', 'cxcywh')
        return self.grounding_head.loss(memory, memory_mask, boxes)

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
        if data_samples is None:
            raise ValueError('BlipGrounding.predict needs data samples with the expression as text')
        memory, memory_mask = self.encode(images, [sample.text for sample in data_samples])
        boxes = self.grounding_head.predict(memory, memory_mask)
        height, width = images.shape[-2:]
        for box, sample in zip(boxes, data_samples):
            scale_w, scale_h = sample.get('scale_factor', (1, 1))
            scale = box.new_tensor([scale_w, scale_h, scale_w, scale_h])
            sample.pred_bboxes = (box * box.new_tensor([width, height, width, height]) / scale)[None]
            if 'gt_bboxes' in sample:
                gt_bboxes = torch.as_tensor(sample.gt_bboxes, dtype=torch.float32).reshape(-1, 4)
                sample.gt_bboxes = gt_bboxes / scale.to(gt_bboxes.device)
        return data_samples
