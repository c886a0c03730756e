"""BLIP NLVR2: is a statement true of a pair of images?"""

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import nn

from blip.registry import MODELS

from .base import BlipModel

#: The statement's possible first tokens (``BlipNLVR.first_token``).
FIRST_TOKENS = ('cls', 'enc')


@MODELS.register_module()
class BlipNLVR(BlipModel):
    """BLIP's natural-language visual reasoning model (NLVR2).

    Both images go through the image tower. The text tower encodes the
    statement (first token: see ``first_token``) with
    two cross-attention branches per layer, one attending to the left image and
    one to the right image (``TextTransformer(num_images=2, merge_layer=6)``:
    the branches are averaged in layers 0-5 and merged by a linear layer from
    layer 6 on). A two-layer MLP on the first token gives the logits ``(false, true)``.

    Args:
        tokenizer: Tokenizer config (``BlipTokenizer``).
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config (``TextTransformer``) with ``num_images=2``.
        max_txt_len: Statements are truncated to this many tokens.
        first_token: The statement's first token: ``'cls'`` keeps the
            tokenizer's ``[CLS]`` (mmpretrain's model, whose released weights
            reproduce its results so), ``'enc'`` replaces it with ``[ENC]`` (the
            official BLIP code, which trained the weights so).
        **kwargs: ``precision``, ``data_preprocessor`` (it stacks the image
            pairs into ``(B, 2, C, H, W)``), ``init_cfg``: see :class:`BlipModel`.
    """

    checkpoint_task = 'nlvr'
    checkpoint_names = {'image_encoder': 'vision_backbone', 'text_encoder': 'multimodal_backbone'}

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict,
        max_txt_len: int = 35,
        first_token: str = 'cls',
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, text_encoder, **kwargs)
        if first_token not in FIRST_TOKENS:
            raise ValueError(f'BlipNLVR: first_token must be one of {FIRST_TOKENS}, got {first_token!r}')
        self.first_token = first_token
        if self.text_encoder.num_images != 2:
            raise ValueError('text_encoder: NLVR cross-attends to two images, set num_images=2')
        hidden_size = self.text_encoder.config.hidden_size
        self.head = nn.Sequential(nn.Linear(hidden_size, hidden_size), nn.ReLU(), nn.Linear(hidden_size, 2))
        self.max_txt_len = max_txt_len

    def extract_feat(self, images: torch.Tensor, data_samples: list | None = None) -> torch.Tensor:
        """The logits ``(B, 2)`` of image pairs ``(B, 2, C, H, W)`` and their statements."""
        return self.logits(images, _statements(data_samples))

    def logits(self, images: torch.Tensor, texts: list[str]) -> torch.Tensor:
        """Logits ``(B, 2)`` of "false"/"true" for image pairs ``(B, 2, C, H, W)``
        (``[:, 0]`` left, ``[:, 1]`` right)."""
        if images.dim() != 5 or images.shape[1] != 2:
            raise ValueError(f'BlipNLVR expects image pairs (B, 2, C, H, W), got {tuple(images.shape)}')
        if len(texts) != images.shape[0]:
            raise ValueError(f'{images.shape[0]} image pairs but {len(texts)} statements')
        # One pass through the image tower: all left images, then all right ones.
        left_embeds, right_embeds = self.encode_image(images.transpose(0, 1).flatten(0, 1)).chunk(2)
        first_token_id = self.tokenizer.enc_token_id if self.first_token == 'enc' else None
        text = self.tokenize(texts, self.max_txt_len, first_token_id=first_token_id)
        hidden_states = self.encode_multimodal(
            text.input_ids, text.attention_mask, [left_embeds, right_embeds]
        )
        return self.head(hidden_states[:, 0])

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        """Cross-entropy of the logits against ``gt_label`` (1 = true)."""
        logits = self.logits(images, _statements(data_samples))
        targets = torch.cat([torch.as_tensor(sample.gt_label).view(-1) for sample in data_samples])
        return {'loss': F.cross_entropy(logits, targets.to(logits.device))}

    def predict(self, images: torch.Tensor, data_samples: list) -> list[DataSample]:
        """Set ``pred_score`` (softmax over false/true) and ``pred_label`` on each sample."""
        scores = self.logits(images, _statements(data_samples)).softmax(dim=1)
        for score, sample in zip(scores, data_samples):
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(dim=0))
        return data_samples


def _statements(data_samples: list | None) -> list[str]:
    if not data_samples:
        raise ValueError('BlipNLVR needs data samples with the statement as text')
    return [sample.text for sample in data_samples]
