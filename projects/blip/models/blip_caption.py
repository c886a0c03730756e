"""BLIP image captioning: the image tower and the text decoder."""

import torch
from mmpretrain.structures import DataSample

from blip.registry import MODELS

from .base import BlipModel
from .generation import GenerationConfig
from .seq_gen_head import IGNORE_INDEX


@MODELS.register_module()
class BlipCaption(BlipModel):
    """BLIP captioning model.

    Training: teacher-forced language-model loss on ``prompt + caption`` with
    the prompt tokens left out of the loss. Prediction: the decoder continues
    ``[DEC] + prompt`` with our decoding loop; the prompt is stripped from the
    caption. With ``generation_cfg.num_return_sequences`` above 1, each
    sample also gets ``pred_captions``, all of them, best first.

    Args:
        tokenizer: Tokenizer config (``BlipTokenizer``).
        image_encoder: Image tower config (``VisionTransformer``).
        head: ``SeqGenerationHead`` config holding the text decoder.
        prompt: Text the caption starts with, e.g. ``'a picture of '``.
        max_txt_len: Captions are truncated to this many tokens (prompt,
            ``[DEC]`` and ``[SEP]`` included) for training.
        generation_cfg: Decoding settings, see :class:`GenerationConfig`
            (lengths count the prompt tokens).
        **kwargs: ``precision``, ``data_preprocessor``, ``init_cfg``: see
            :class:`BlipModel`.
    """

    checkpoint_task = 'caption'
    checkpoint_names = {'image_encoder': 'visual_encoder', 'head': 'seq_gen_head'}

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        head: dict,
        prompt: str = '',
        max_txt_len: int = 20,
        generation_cfg: dict | None = None,
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, **kwargs)
        self.head = MODELS.build(head)
        self.prompt = prompt
        self.prompt_length = len(self.tokenizer(prompt).input_ids) - 1
        self.max_txt_len = max_txt_len
        self.generation_cfg = GenerationConfig(**(generation_cfg or {}))

    def loss(self, images: torch.Tensor, data_samples: list) -> dict[str, torch.Tensor]:
        image_embeds = self.encode_image(images)
        captions = [self.prompt + sample.gt_caption for sample in data_samples]
        input_ids = self.tokenize(
            captions, self.max_txt_len, first_token_id=self.tokenizer.bos_token_id
        ).input_ids
        labels = input_ids.masked_fill(input_ids == self.tokenizer.pad_token_id, IGNORE_INDEX)
        labels[:, : self.prompt_length] = IGNORE_INDEX
        # The decoder sees no padding mask: pads follow the text, so the causal
        # mask already keeps them out of every real position (as BLIP trains).
        return self.head.loss(input_ids, image_embeds, labels)

    def prompt_ids(self, batch_size: int) -> torch.Tensor:
        """``[DEC]`` + prompt tokens (the prompt's ``[SEP]`` dropped), per image."""
        ids = self.tokenize([self.prompt], first_token_id=self.tokenizer.bos_token_id).input_ids[:, :-1]
        return ids.expand(batch_size, -1)

    def generate(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Token ids (B * num_return_sequences, L) with the prompt, and beam scores."""
        image_embeds = self.encode_image(images)
        return self.head.generate(
            self.prompt_ids(image_embeds.shape[0]),
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
        per_image = self.generation_cfg.num_return_sequences
        for i, sample in enumerate(data_samples):
            own = captions[i * per_image : (i + 1) * per_image]
            sample.pred_caption = own[0]
            if per_image > 1:
                sample.pred_captions = own
        return data_samples
