"""The text tower as a causal decoder with BERT's language-model head."""

from collections import OrderedDict

import torch
from torch import nn

from blip.registry import MODELS

from .text_transformer import DecodingCache, TextConfig, TextTransformer, activation, init_bert_weights


class LMPrediction(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        # BERT's layout and parameter names: transform.dense, transform.LayerNorm.
        self.transform = nn.Sequential(
            OrderedDict(
                dense=nn.Linear(config.hidden_size, config.hidden_size),
                act=activation(config),
                LayerNorm=nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps),
            )
        )
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))
        # One tensor under both names, as in BERT's checkpoints.
        self.decoder.bias = self.bias

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.transform(hidden_states))


class LMHead(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.predictions = LMPrediction(config)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.predictions(hidden_states)


@MODELS.register_module()
class TextDecoder(nn.Module):
    """Causal text decoder cross-attending to image tokens, with an LM head.

    The output projection shares its weight with the word embeddings.

    Args:
        config: Text transformer sizes (BLIP's ``med_config`` keys).
        with_cp: Gradient checkpointing while training.
    """

    def __init__(self, config: dict | TextConfig, with_cp: bool = False):
        super().__init__()
        self.bert = TextTransformer(config, with_cp=with_cp)
        self.cls = LMHead(self.bert.config)
        self.cls.predictions.transform.apply(init_bert_weights)
        self.cls.predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight

    @property
    def config(self) -> TextConfig:
        return self.bert.config

    def share_with_encoder(self, encoder: TextTransformer) -> None:
        """Take ``encoder``'s modules for everything but self-attention, as BLIP's
        pre-training ties its text encoder and decoder.

        Afterwards the two share the word and position embeddings and their
        LayerNorm, and in every layer the cross-attention, the intermediate
        and the output block (the same parameter objects, trained by both);
        each keeps its own self-attention, its own dropout modules and
        position-id buffer, and the decoder its LM head, whose output
        projection stays tied to the (shared) word embeddings.
        """
        if encoder.config != self.config:
            raise ValueError(
                'share_with_encoder: the text encoder and decoder must have the same config, got '
                f'{encoder.config} and {self.config}'
            )
        embeddings, own = encoder.embeddings, self.bert.embeddings
        own.word_embeddings = embeddings.word_embeddings
        own.position_embeddings = embeddings.position_embeddings
        own.LayerNorm = embeddings.LayerNorm
        for ours, theirs in zip(self.bert.layers, encoder.layers, strict=True):
            if encoder.config.add_cross_attention:
                ours.crossattention = theirs.crossattention
            ours.intermediate = theirs.intermediate
            ours.output = theirs.output
        self.cls.predictions.decoder.weight = own.word_embeddings.weight

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        image_embeds: torch.Tensor | None = None,
        image_mask: torch.Tensor | None = None,
        image_group: int = 1,
    ) -> torch.Tensor:
        """Teacher-forced logits (B, L, vocab) for every position of ``input_ids``.

        With ``image_group > 1``, each row of ``image_embeds`` serves that many
        consecutive rows of ``input_ids`` (e.g. the candidate answers of one
        question) without being copied.
        """
        hidden_states = self.bert(
            input_ids,
            attention_mask,
            image_embeds=image_embeds,
            image_mask=image_mask,
            causal=True,
            image_group=image_group,
        )
        return self.cls(hidden_states)

    def incremental(
        self, image_embeds: torch.Tensor | None, image_mask: torch.Tensor | None = None, max_length: int = 512
    ) -> 'CachedDecoding':
        """A decoder that feeds tokens step by step, keeping keys/values cached.

        The rows fed at each step are split evenly over the rows of ``image_embeds``.
        """
        return CachedDecoding(self, image_embeds, image_mask, max_length)


class CachedDecoding:
    """Step-by-step decoding state of a :class:`TextDecoder`, for the decoding loop
    (:class:`blip.models.generation.IncrementalDecoder`).

    ``image_embeds`` has one row per input (image, or question states); each
    step feeds the same number of consecutive rows per input (the prompt once,
    then the beams or samples), which share the input's cross-attention keys
    and values.
    """

    def __init__(self, decoder, image_embeds, image_mask, max_length):
        self.decoder = decoder
        self.image_embeds = image_embeds
        self.image_mask = image_mask
        self.num_inputs = None if image_embeds is None else image_embeds.shape[0]
        self.cache = DecodingCache(decoder.config.num_hidden_layers, max_length)

    def step(self, new_ids: torch.Tensor) -> torch.Tensor:
        """Feed ``new_ids`` (rows, n); return the next-token logits (rows, vocab)."""
        hidden_states = self.decoder.bert(
            new_ids,
            image_embeds=self.image_embeds,
            image_mask=self.image_mask,
            causal=True,
            cache=self.cache,
            image_group=self._rows_per_input(new_ids.shape[0]),
        )
        # Only the last position's logits are needed (the prompt's others are not).
        return self.decoder.cls(hidden_states[:, -1])

    def reorder(self, rows: torch.Tensor, inputs: torch.Tensor | None = None) -> None:
        """Continue with the rows ``rows`` of the last step; ``inputs``: the inputs kept."""
        self.cache.reorder(rows)
        if inputs is not None:
            self.cache.select_images(inputs)
            self.num_inputs = len(inputs)
            if self.image_mask is not None:
                self.image_mask = self.image_mask.index_select(0, inputs)

    def _rows_per_input(self, rows: int) -> int:
        if self.num_inputs is None:
            return 1
        if rows % self.num_inputs:
            raise ValueError(f'{rows} decoder rows cannot be split evenly over {self.num_inputs} inputs')
        return rows // self.num_inputs
