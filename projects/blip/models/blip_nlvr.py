"""BLIP NLVR2: is a statement true of a pair of images?"""

import torch
import torch.nn.functional as F
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample
from torch import nn

from blip.registry import MODELS, TOKENIZER


@MODELS.register_module()
class BlipNLVR(BaseModel):
    """BLIP's natural-language visual reasoning model (NLVR2).

    Both images go through the image tower. The text tower encodes the
    statement (``[CLS]`` first, no ``[ENC]``, as in BLIP and mmpretrain) with
    two cross-attention branches per layer, one attending to the left image and
    one to the right image (``med_config['nlvr']=True``: the branches are
    averaged in layers 0-5 and merged by a linear layer from layer 6 on). A
    two-layer MLP on the first token gives the logits ``(false, true)``.

    Args:
        vision_backbone: Image tower config (``VisionTransformer``).
        multimodal_backbone: Text tower config (``TextTransformer``) with
            ``nlvr=True`` in its ``med_config``.
        tokenizer: Tokenizer config (``BlipTokenizer``).
        max_txt_len: Statements are truncated to this many tokens.
        data_preprocessor: Batch preparation config; it stacks the image pairs
            into ``(B, 2, C, H, W)``.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        vision_backbone: dict,
        multimodal_backbone: dict,
        tokenizer: dict,
        max_txt_len: int = 35,
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ):
        data_preprocessor = dict(type='BlipDataPreprocessor') | dict(data_preprocessor or {})
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.tokenizer = TOKENIZER.build(tokenizer)
        self.vision_backbone = MODELS.build(vision_backbone)
        self.multimodal_backbone = MODELS.build(multimodal_backbone)
        config = self.multimodal_backbone.config
        if not (config.nlvr and config.add_cross_attention):
            raise ValueError(
                'multimodal_backbone: NLVR needs the two-image cross-attention, '
                'set nlvr=True and add_cross_attention=True in its med_config'
            )
        hidden_size = config.hidden_size
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 2))
        self.max_txt_len = max_txt_len

    def forward(self, images: torch.Tensor, data_samples: list | None = None, mode: str = 'loss'):
        """Run on image pairs ``(B, 2, C, H, W)`` (``[:, 0]`` left, ``[:, 1]`` right).

        ``mode``: ``'loss'`` (``{'loss': cross-entropy}``, needs ``gt_label``),
        ``'predict'`` (data samples with ``pred_score`` and ``pred_label``,
        1 = the statement is true) or ``'tensor'`` (the logits ``(B, 2)``).
        Every sample needs its statement as ``text``.
        """
        if mode == 'loss':
            return self.loss(images, data_samples)
        if mode == 'predict':
            return self.predict(images, data_samples)
        if mode == 'tensor':
            return self.logits(images, [sample.text for sample in data_samples])
        raise RuntimeError(f'Invalid mode "{mode}".')

    def logits(self, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """Logits ``(B, 2)`` of "false"/"true" for image pairs ``(B, 2, C, H, W)``."""
        if images.dim() != 5 or images.shape[1] != 2:
            raise ValueError(f'BlipNLVR expects image pairs (B, 2, C, H, W), got {tuple(images.shape)}')
        if len(texts) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} image pairs but {len(texts)} statements')
        # One pass through the image tower: all left images, then all right ones.
        image_embeds = self.vision_backbone(images.transpose(0, 1).flatten(0, 1))[0]
        left_embeds, right_embeds = image_embeds.chunk(2)
        text = self.tokenizer(
            texts, padding='longest', truncation=True, max_length=self.max_txt_len, return_tensors='pt'
        ).to(image_embeds.device)
        hidden_states = self.multimodal_backbone(
            text.input_ids, text.attention_mask, image_embeds=[left_embeds, right_embeds]
        )
        return self.head(hidden_states[:, 0])

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        """Cross-entropy of the logits against ``gt_label`` (1 = true)."""
        logits = self.logits(images, [sample.text for sample in data_samples])
        targets = torch.cat([torch.as_tensor(sample.gt_label).view(-1) for sample in data_samples])
        return {'loss': F.cross_entropy(logits, targets.to(logits.device))}

    def predict(self, images: torch.Tensor, data_samples: list) -> list[DataSample]:
        """Set ``pred_score`` (softmax over false/true) and ``pred_label`` on each sample."""
        scores = self.logits(images, [sample.text for sample in data_samples]).softmax(dim=1)
        for score, sample in zip(scores, data_samples):
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(dim=0))
        return data_samples
