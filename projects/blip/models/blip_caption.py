"""BLIP image captioning: the image tower and the text decoder."""

import torch
from mmengine.model import BaseModel
from mmpretrain.structures import DataSample

from blip.registry import MODELS, TOKENIZER

from .generation import GenerationConfig
from .precision import InferencePrecision, inference_precision


@MODELS.register_module()
class BlipCaption(InferencePrecision, BaseModel):
    """BLIP captioning model.

    Training: teacher-forced language-model loss on ``prompt + caption`` with
    the prompt tokens left out of the loss. Prediction: the decoder continues
    ``[DEC] + prompt`` with our decoding loop; the prompt is stripped from the
    caption.

    Args:
        vision_encoder: Image tower config (``VisionTransformer``).
        decoder_head: ``SeqGenerationHead`` config holding the text decoder.
        tokenizer: Tokenizer config (``BlipTokenizer``).
        prompt: Text the caption starts with, e.g. ``'a picture of '``.
        max_txt_len: Captions are truncated to this many tokens (prompt,
            ``[DEC]`` and ``[SEP]`` included) for training.
        num_captions: Captions per image (best beams, or samples); with more
            than one, ``pred_captions`` holds them all.
        generation_cfg: Decoding settings, see :class:`GenerationConfig`
            (lengths count the prompt tokens).
        precision: Inference precision: ``'float32'``, or ``'bfloat16'`` /
            ``'float16'`` (autocast, see :mod:`blip.models.precision`). Also
            settable later as ``model.precision``.
        data_preprocessor: Batch preparation config.
        init_cfg: mmengine initialisation config.
    """

    def __init__(
        self,
        vision_encoder: dict,
        decoder_head: dict,
        tokenizer: dict,
        prompt: str = '',
        max_txt_len: int = 20,
        num_captions: int = 1,
        generation_cfg: dict | None = None,
        precision: str = 'float32',
        data_preprocessor: dict | None = None,
        init_cfg: dict | None = None,
    ):
        data_preprocessor = dict(type='BlipDataPreprocessor') | dict(data_preprocessor or {})
        super().__init__(init_cfg=init_cfg, data_preprocessor=MODELS.build(data_preprocessor))
        self.tokenizer = TOKENIZER.build(tokenizer)
        self.visual_encoder = MODELS.build(vision_encoder)
        self.seq_gen_head = MODELS.build(decoder_head)
        self.prompt = prompt
        self.prompt_length = len(self.tokenizer(prompt).input_ids) - 1
        self.max_txt_len = max_txt_len
        generation_cfg = dict(generation_cfg or {})
        generation_cfg.setdefault('num_return_sequences', num_captions)
        self.generation_cfg = GenerationConfig(**generation_cfg)
        self.num_captions = self.generation_cfg.num_return_sequences
        self.precision = precision

    def forward(self, images: torch.Tensor, data_samples: list | None = None, mode: str = 'loss'):
        """``mode``: ``'loss'`` (dict of losses), ``'predict'`` (data samples with
        ``pred_caption``) or ``'tensor'`` (image tokens)."""
        if mode == 'loss':
            return self.loss(images, data_samples)
        if mode == 'predict':
            return self.predict(images, data_samples)
        if mode == 'tensor':
            return self.visual_encoder(images)[0]
        raise RuntimeError(f'Invalid mode "{mode}".')

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        image_embeds = self.visual_encoder(images)[0]
        text = self.tokenizer(
            [self.prompt + sample.gt_caption for sample in data_samples],
            padding='longest',
            truncation=True,
            max_length=self.max_txt_len,
            return_tensors='pt',
        ).to(image_embeds.device)
        input_ids = text.input_ids
        input_ids[:, 0] = self.tokenizer.bos_token_id
        labels = input_ids.masked_fill(input_ids == self.tokenizer.pad_token_id, -100)
        labels[:, : self.prompt_length] = -100
        # The decoder sees no padding mask: pads follow the text, so the causal
        # mask already keeps them out of every real position (as BLIP trains).
        return self.seq_gen_head.loss(input_ids, image_embeds, labels)

    def prompt_ids(self, batch_size: int, device: torch.device) -> torch.Tensor:
        """``[DEC]`` + prompt tokens (the prompt's ``[SEP]`` dropped), per image."""
        ids = self.tokenizer(self.prompt, return_tensors='pt').input_ids[:, :-1]
        ids[:, 0] = self.tokenizer.bos_token_id
        return ids.to(device).expand(batch_size, -1)

    def generate(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token ids (B * num_captions, L) with the prompt, and beam scores."""
        with inference_precision(self.precision, images.device):
            image_embeds = self.visual_encoder(images)[0]
            return self.seq_gen_head.generate(
                self.prompt_ids(image_embeds.shape[0], image_embeds.device),
                image_embeds,
                self.generation_cfg,
                eos_token_id=self.tokenizer.sep_token_id,
                pad_token_id=self.tokenizer.pad_token_id,
            )

    def predict(self, images: torch.Tensor, data_samples: list | None = None) -> list[DataSample]:
        sequences, _ = self.generate(images)
        texts = self.tokenizer.batch_decode(sequences, skip_special_tokens=True)
        # The prompt is stripped by characters, as in BLIP and mmpretrain.
        captions = [text[len(self.prompt) :] for text in texts]
        if data_samples is None:
            data_samples = [DataSample() for _ in range(images.shape[0])]
        for i, sample in enumerate(data_samples):
            own = captions[i * self.num_captions : (i + 1) * self.num_captions]
            sample.pred_caption = own[0]
            if self.num_captions > 1:
                sample.pred_captions = own
        return data_samples
