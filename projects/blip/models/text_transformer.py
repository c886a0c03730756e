"""The text tower: a BERT-style transformer in plain PyTorch.

One module serves BLIP's three text modes, chosen by the arguments of
:meth:`TextTransformer.forward`:

* text-only encoder: no ``image_embeds`` (cross-attention is skipped);
* image-grounded encoder: ``image_embeds`` given, bidirectional self-attention;
* causal decoder: ``causal=True`` (with ``image_embeds``), used by the LM head.

Parameter names equal those of the BERT that BLIP and mmpretrain use
(``embeddings.*``, ``encoder.layer.N.attention.self.query`` ...), so their
checkpoints load key for key.
"""

from collections import OrderedDict
from dataclasses import dataclass, fields

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from blip.registry import MODELS

from .attention import ScaledDotProduct

# Keys of a Hugging Face / BLIP ``med_config`` that describe the file, not the model.
_IGNORED_MED_KEYS = {
    'architectures',
    'model_type',
    'initializer_range',
    'type_vocab_size_unused',
    'position_embedding_type',
    'use_cache',
    'torch_dtype',
    'transformers_version',
    'gradient_checkpointing',
    'chunk_size_feed_forward',
    'classifier_dropout',
}


@dataclass
class TextConfig:
    """Sizes of the text transformer (BERT-base by default)."""

    vocab_size: int = 30524
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    max_position_embeddings: int = 512
    layer_norm_eps: float = 1e-12
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    hidden_act: str = 'gelu'
    pad_token_id: int = 0
    add_type_embeddings: bool = False
    type_vocab_size: int = 2
    add_cross_attention: bool = True
    encoder_width: int = 768

    @classmethod
    def from_med_config(cls, med_config: 'dict | TextConfig') -> 'TextConfig':
        """Read BLIP's ``med_config`` dict; an unknown key is an error naming it."""
        if isinstance(med_config, TextConfig):
            return med_config
        known = {f.name for f in fields(cls)}
        unknown = set(med_config) - known - _IGNORED_MED_KEYS
        if unknown:
            raise KeyError(f'med_config: unknown keys {sorted(unknown)}; known: {sorted(known)}')
        if med_config.get('position_embedding_type', 'absolute') != 'absolute':
            raise ValueError('med_config: only absolute position embeddings are supported')
        return cls(**{k: v for k, v in med_config.items() if k in known})

    @property
    def head_dim(self) -> int:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f'hidden_size {self.hidden_size} is not a multiple of '
                f'num_attention_heads {self.num_attention_heads}'
            )
        return self.hidden_size // self.num_attention_heads


#: BERT's ``hidden_act`` names -> activation modules.
ACTIVATIONS = {
    'gelu': nn.GELU,
    'relu': nn.ReLU,
    'gelu_new': lambda: nn.GELU(approximate='tanh'),
    'gelu_pytorch_tanh': lambda: nn.GELU(approximate='tanh'),
}


def activation(config: 'TextConfig') -> nn.Module:
    """The activation module of ``config.hidden_act``."""
    if config.hidden_act not in ACTIVATIONS:
        raise ValueError(f'hidden_act must be one of {sorted(ACTIVATIONS)}, got {config.hidden_act!r}')
    return ACTIVATIONS[config.hidden_act]()


class DecodingCache:
    """Keys and values kept between decoding steps.

    Self-attention keys/values are preallocated to ``max_length`` and written in
    place. Cross-attention keys/values are computed once per image and shared by
    every sequence decoded for that image (``image_group`` sequences, e.g. the
    beams), so beams never copy or reorder them.
    """

    def __init__(self, num_layers: int, max_length: int):
        self.max_length = max_length
        self.length = 0
        self.self_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * num_layers
        self.cross_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = [None] * num_layers

    def extend(self, layer: int, keys: torch.Tensor, values: torch.Tensor):
        """Write this step's keys/values for ``layer``; return all keys/values so far."""
        end = self.length + keys.shape[2]
        if end > self.max_length:
            raise ValueError(f'decoding past the cache length {self.max_length}')
        if self.self_kv[layer] is None:
            shape = keys.shape[:2] + (self.max_length, keys.shape[3])
            self.self_kv[layer] = (keys.new_empty(shape), values.new_empty(shape))
        cached_keys, cached_values = self.self_kv[layer]
        cached_keys[:, :, self.length : end] = keys
        cached_values[:, :, self.length : end] = values
        return cached_keys[:, :, :end], cached_values[:, :, :end]

    def reorder(self, index: torch.Tensor) -> None:
        """Keep the self-attention cache of the rows ``index`` (beam reordering)."""
        self.self_kv = [
            None if kv is None else (kv[0].index_select(0, index), kv[1].index_select(0, index))
            for kv in self.self_kv
        ]

    def select_images(self, index: torch.Tensor) -> None:
        """Keep the cross-attention keys/values of the images ``index`` (inputs leaving the batch)."""
        self.cross_kv = [
            None if kvs is None else [(k.index_select(0, index), v.index_select(0, index)) for k, v in kvs]
            for kvs in self.cross_kv
        ]


class MultiHeadAttention(nn.Module):
    """Query/key/value projections and scaled dot-product attention."""

    def __init__(self, hidden_size: int, kv_width: int, num_heads: int, dropout: float):
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(kv_width, hidden_size)
        self.value = nn.Linear(kv_width, hidden_size)
        self.attend = ScaledDotProduct(dropout)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.num_heads, -1)).transpose(1, 2)

    def keys_values(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._heads(self.key(x)), self._heads(self.value(x))

    def forward(
        self,
        hidden_states: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor,
        mask: torch.Tensor | None = None,
        is_causal: bool = False,
        group: int = 1,
    ) -> torch.Tensor:
        """Attend from ``hidden_states`` (B*group, L, C) to keys/values (B, H, S, d).

        With ``group > 1`` the queries of ``group`` consecutive rows attend to the
        same keys/values: they are stacked along the query axis instead of
        copying the keys/values once per row.
        """
        query = self._heads(self.query(hidden_states))
        rows, heads, length, dims = query.shape
        if group > 1:
            query = query.unflatten(0, (-1, group)).transpose(1, 2).reshape(-1, heads, group * length, dims)
        context = self.attend(query, keys, values, mask, is_causal)
        if group > 1:
            context = context.unflatten(2, (group, length)).transpose(1, 2).reshape(rows, heads, length, dims)
        return context.transpose(1, 2).flatten(2)


class ResidualOutput(nn.Module):
    """``LayerNorm(residual + dropout(dense(x)))``.

    With ``num_inputs`` 2 (the two image branches of cross-attention) each
    input has its own ``dense{i}``; their outputs are averaged, or with
    ``merge`` concatenated and merged by ``merge_layer`` (BLIP's NLVR layers).
    """

    def __init__(self, in_features: int, config: TextConfig, num_inputs: int = 1, merge: bool = False):
        super().__init__()
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        if num_inputs == 1:
            self.dense = nn.Linear(in_features, config.hidden_size)
        else:
            for i in range(num_inputs):
                self.add_module(f'dense{i}', nn.Linear(in_features, config.hidden_size))
        self.merge_layer = nn.Linear(config.hidden_size * num_inputs, config.hidden_size) if merge else None

    def forward(self, inputs: list[torch.Tensor], residual: torch.Tensor) -> torch.Tensor:
        if len(inputs) == 1:
            x = self.dense(inputs[0])
        else:
            branches = [getattr(self, f'dense{i}')(x) for i, x in enumerate(inputs)]
            if self.merge_layer is not None:
                x = self.merge_layer(torch.cat(branches, dim=-1))
            else:
                x = sum(branches) / len(branches)
        return self.LayerNorm(self.dropout(x) + residual)


class AttentionBlock(nn.Module):
    """Self- or cross-attention followed by its residual output.

    Cross-attention to ``num_images`` images has one attention per image
    (``self`` for one image, ``self0``, ``self1`` for two), see :class:`ResidualOutput`.
    """

    def __init__(self, config: TextConfig, cross: bool = False, num_images: int = 1, merge: bool = False):
        super().__init__()
        kv_width = config.encoder_width if cross else config.hidden_size
        args = (config.hidden_size, kv_width, config.num_attention_heads, config.attention_probs_dropout_prob)
        names = ['self'] if num_images == 1 else [f'self{i}' for i in range(num_images)]
        for name in names:
            self.add_module(name, MultiHeadAttention(*args))
        self.output = ResidualOutput(config.hidden_size, config, num_inputs=num_images, merge=merge)

    @property
    def heads(self) -> list[MultiHeadAttention]:
        """The attention of each image, in order."""
        return [module for name, module in self.named_children() if name != 'output']


class TextLayer(nn.Module):
    def __init__(self, config: TextConfig, num_images: int = 1, merge: bool = False):
        super().__init__()
        self.attention = AttentionBlock(config)
        if config.add_cross_attention:
            self.crossattention = AttentionBlock(config, cross=True, num_images=num_images, merge=merge)
        # BERT's layout and parameter names: intermediate.dense, output.dense.
        self.intermediate = nn.Sequential(
            OrderedDict(dense=nn.Linear(config.hidden_size, config.intermediate_size), act=activation(config))
        )
        self.output = ResidualOutput(config.intermediate_size, config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        self_mask: torch.Tensor | None,
        is_causal: bool,
        image_kv: list[tuple[torch.Tensor, torch.Tensor]] | None,
        image_masks: list[torch.Tensor | None] | None,
        image_group: int,
        cache: DecodingCache | None,
        index: int,
    ) -> torch.Tensor:
        attention = self.attention.self
        keys, values = attention.keys_values(hidden_states)
        if cache is not None:
            keys, values = cache.extend(index, keys, values)
        context = attention(hidden_states, keys, values, self_mask, is_causal)
        hidden_states = self.attention.output([context], hidden_states)
        if image_kv is not None:
            block = self.crossattention
            contexts = [
                head(hidden_states, k, v, mask, group=image_group)
                for head, (k, v), mask in zip(block.heads, image_kv, image_masks, strict=True)
            ]
            hidden_states = block.output(contexts, hidden_states)
        return self.output([self.intermediate(hidden_states)], hidden_states)

    def image_keys_values(self, image_embeds: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [head.keys_values(x) for head, x in zip(self.crossattention.heads, image_embeds, strict=True)]


class TextEmbeddings(nn.Module):
    def __init__(self, config: TextConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(
            config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id
        )
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        if config.add_type_embeddings:
            self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        # Persistent, as in BERT: released checkpoints carry it.
        self.register_buffer('position_ids', torch.arange(config.max_position_embeddings).expand((1, -1)))

    def forward(self, input_ids: torch.Tensor, offset: int = 0) -> torch.Tensor:
        length = input_ids.shape[1]
        if offset + length > self.position_ids.shape[1]:
            raise ValueError(
                f'text of {offset + length} tokens is longer than the '
                f'{self.position_ids.shape[1]} position embeddings'
            )
        positions = self.position_ids[:, offset : offset + length]
        embeddings = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(embeddings))


class TextLayers(nn.Module):
    def __init__(self, config: TextConfig, num_images: int, merge_layer: int | None):
        super().__init__()
        self.layer = nn.ModuleList(
            TextLayer(config, num_images, merge=merge_layer is not None and i >= merge_layer)
            for i in range(config.num_hidden_layers)
        )


def init_bert_weights(module: nn.Module, std: float = 0.02) -> None:
    """BERT's initialisation, for training from scratch: N(0, 0.02) weights, zero
    biases, unit LayerNorm, zero padding embedding."""
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=std)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding) and module.padding_idx is not None:
        with torch.no_grad():
            module.weight[module.padding_idx].zero_()
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def _key_padding_mask(attention_mask: torch.Tensor | None) -> torch.Tensor | None:
    """(B, S) 1/0 mask -> boolean (B, 1, 1, S), or None when nothing is masked."""
    if attention_mask is None or bool(attention_mask.all()):
        return None
    return attention_mask.bool()[:, None, None, :]


def _select_rows(layer_kv, index: torch.Tensor):
    """Per layer, the image keys/values of the rows ``index`` (computed once per image)."""
    return lambda layer: [(k.index_select(0, index), v.index_select(0, index)) for k, v in layer_kv(layer)]


@MODELS.register_module()
class TextTransformer(nn.Module):
    """BERT encoder stack with optional cross-attention to image tokens.

    Args:
        config: Sizes; a :class:`TextConfig` or BLIP's ``med_config`` dict.
        num_images: Images each layer cross-attends to, each with attention
            weights of its own (BLIP's NLVR2 encoder: 2, the left and the
            right image); their outputs are averaged, or merged (below).
        merge_layer: With several images, layers from this index on merge
            the images' outputs with a linear layer instead of averaging them
            (BLIP's NLVR2 encoder: 6). None: every layer averages.
        with_cp: Gradient checkpointing of each layer while training.
    """

    def __init__(
        self,
        config: TextConfig | dict,
        num_images: int = 1,
        merge_layer: int | None = None,
        with_cp: bool = False,
    ):
        super().__init__()
        self.config = TextConfig.from_med_config(config)
        if num_images < 1 or (num_images > 1 and not self.config.add_cross_attention):
            raise ValueError(
                f'TextTransformer: num_images={num_images} needs num_images >= 1 and cross-attention '
                '(add_cross_attention=True)'
            )
        if merge_layer is not None and num_images == 1:
            raise ValueError(
                'TextTransformer: merge_layer merges the outputs of several images (num_images > 1)'
            )
        self.num_images = num_images
        self.with_cp = with_cp
        self.embeddings = TextEmbeddings(self.config)
        self.encoder = TextLayers(self.config, num_images, merge_layer)
        self.apply(init_bert_weights)

    @property
    def layers(self) -> nn.ModuleList:
        return self.encoder.layer

    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        *,
        embeds: torch.Tensor | None = None,
        image_embeds: torch.Tensor | list[torch.Tensor] | None = None,
        image_mask: torch.Tensor | list[torch.Tensor] | None = None,
        causal: bool = False,
        cache: DecodingCache | None = None,
        image_group: int = 1,
        image_index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Return the last hidden states (B, L, C).

        Args:
            input_ids: Token ids (B, L); or give ``embeds`` to skip the embedding
                layer (used when one encoder feeds another).
            attention_mask: 1 for tokens to attend, 0 for padding, over all keys
                (the cached ones included when decoding).
            image_embeds: Image tokens (B, N, C_img) to cross-attend to; a list of
                ``num_images`` of them for several images. None: text-only mode.
            image_mask: 1/0 mask over the image tokens (same structure).
            causal: Causal self-attention (decoder mode).
            cache: Keys/values of earlier decoding steps, updated in place.
            image_group: Rows of ``input_ids`` per row of ``image_embeds``.
            image_index: (B,) row of ``image_embeds`` each row of ``input_ids``
                attends to, in any order (retrieval re-ranking scores many texts
                per image): keys/values are computed once per image row.
        """
        offset = cache.length if cache is not None else 0
        hidden_states = self.embeddings(input_ids, offset) if embeds is None else embeds
        length = hidden_states.shape[1]
        self_mask, is_causal = self._self_attention_mask(
            attention_mask, length, offset, causal, hidden_states.device
        )

        image_kv_per_layer = image_masks = None
        if image_embeds is not None:
            if not self.config.add_cross_attention:
                raise ValueError('this text transformer has no cross-attention layers')
            image_embeds = image_embeds if isinstance(image_embeds, list) else [image_embeds]
            if len(image_embeds) != self.num_images:
                raise ValueError(
                    f'this text transformer cross-attends to {self.num_images} image(s), '
                    f'got {len(image_embeds)}'
                )
            if not isinstance(image_mask, list):
                image_mask = [image_mask] * len(image_embeds)
            image_masks = [_key_padding_mask(m) for m in image_mask]
            image_kv_per_layer = self._image_keys_values(image_embeds, cache)
            if image_index is not None:
                image_masks = [None if m is None else m[image_index] for m in image_masks]
                image_kv_per_layer = _select_rows(image_kv_per_layer, image_index)

        for index, layer in enumerate(self.layers):
            image_kv = None if image_kv_per_layer is None else image_kv_per_layer(index)
            args = (hidden_states, self_mask, is_causal, image_kv, image_masks, image_group, cache, index)
            if self.with_cp and self.training:
                hidden_states = checkpoint(layer, *args, use_reentrant=False)
            else:
                hidden_states = layer(*args)
        if cache is not None:
            cache.length += length
        return hidden_states

    def _image_keys_values(self, image_embeds, cache):
        def layer_kv(index):
            if cache is None:
                return self.layers[index].image_keys_values(image_embeds)
            if cache.cross_kv[index] is None:
                # Contiguous heads: every step reads them, and the products
                # over many keys would otherwise copy them at each step.
                kv = self.layers[index].image_keys_values(image_embeds)
                cache.cross_kv[index] = [(k.contiguous(), v.contiguous()) for k, v in kv]
            return cache.cross_kv[index]

        return layer_kv

    @staticmethod
    def _self_attention_mask(attention_mask, length, offset, causal, device):
        padding = _key_padding_mask(attention_mask)
        if not causal or length == 1:
            return padding, False
        if padding is None and offset == 0:
            return None, True
        positions = torch.arange(offset + length, device=device)
        allowed = positions[None, :] <= positions[offset:, None]
        mask = allowed[None, None]
        return (mask if padding is None else mask & padding), False
