"""The image tower: a plain ViT whose parameter names equal mmpretrain's."""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from blip.registry import MODELS

from .attention import ScaledDotProduct

ARCHS = {
    'b': dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072),
    'l': dict(embed_dims=1024, num_layers=24, num_heads=16, feedforward_channels=4096),
}
ARCHS['base'], ARCHS['large'] = ARCHS['b'], ARCHS['l']


def resize_pos_embed(
    pos_embed: torch.Tensor, dst_grid: tuple[int, int], num_extra_tokens: int = 1
) -> torch.Tensor:
    """Resample a square grid of position embeddings to ``dst_grid`` (bicubic).

    The extra (class) tokens keep their embeddings; the grid is interpolated as
    an image, as mmpretrain and BLIP do when fine-tuning at another resolution.
    """
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    src = int(math.isqrt(grid.shape[1]))
    if src * src != grid.shape[1]:
        raise ValueError(f'position embeddings of {grid.shape[1]} tokens are not a square grid')
    if (src, src) == tuple(dst_grid):
        return pos_embed
    grid = grid.reshape(1, src, src, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_grid, mode='bicubic', align_corners=False)
    return torch.cat([extra, grid.flatten(2).transpose(1, 2)], dim=1)


def sincos_pos_embed(
    grid: tuple[int, int], dims: int, temperature: float = 10000.0, num_extra_tokens: int = 1
) -> torch.Tensor:
    """2-D sine-cosine position embeddings (1, extra + H * W, dims), as MAE and MoCo v3 build them.

    The first half of the channels encodes the row, the second the column, each
    as sines and cosines of ``dims / 4`` frequencies ``1 / temperature ** (k / (dims / 4))``;
    the extra (class) tokens get zeros.
    """
    if dims % 4:
        raise ValueError(f'sine-cosine position embeddings need embed_dims divisible by 4, got {dims}')
    omega = 1.0 / temperature ** (torch.arange(dims // 4, dtype=torch.float64) / (dims // 4))
    rows, cols = torch.meshgrid(
        torch.arange(grid[0], dtype=torch.float64), torch.arange(grid[1], dtype=torch.float64), indexing='ij'
    )
    parts = []
    for position in (rows.flatten(), cols.flatten()):
        angles = position[:, None] * omega[None]
        parts += [angles.sin(), angles.cos()]
    grid_embed = torch.cat(parts, dim=1)
    extra = grid_embed.new_zeros(num_extra_tokens, dims)
    return torch.cat([extra, grid_embed]).float()[None]


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, embed_dims: int):
        super().__init__()
        self.projection = nn.Conv2d(3, embed_dims, patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.projection(images)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


class ViTAttention(nn.Module):
    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(embed_dims, embed_dims * 3)
        self.attend = ScaledDotProduct(attn_drop)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dims = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        x = self.attend(qkv[0], qkv[1], qkv[2])
        return self.proj(x.transpose(1, 2).reshape(batch, length, dims))


class FFN(nn.Module):
    def __init__(self, embed_dims: int, feedforward_channels: int, drop: float):
        super().__init__()
        # mmpretrain's layout (its parameter names: layers.0.0, layers.1).
        self.layers = nn.Sequential(
            nn.Sequential(nn.Linear(embed_dims, feedforward_channels), nn.GELU(), nn.Dropout(drop)),
            nn.Linear(feedforward_channels, embed_dims),
            nn.Dropout(drop),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DropPath(nn.Module):
    """Stochastic depth: drop a sample's whole residual branch while training."""

    def __init__(self, prob: float):
        super().__init__()
        self.prob = prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.prob == 0.0:
            return x
        keep = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(1 - self.prob)
        return x * keep / (1 - self.prob)


class ViTLayer(nn.Module):
    def __init__(self, embed_dims, num_heads, feedforward_channels, drop_rate, drop_path):
        super().__init__()
        self.ln1 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.attn = ViTAttention(embed_dims, num_heads, drop_rate)
        self.ln2 = nn.LayerNorm(embed_dims, eps=1e-6)
        self.ffn = FFN(embed_dims, feedforward_channels, drop_rate)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.ln1(x)))
        return x + self.drop_path(self.ffn(self.ln2(x)))


def _init_vit_weights(module: nn.Module) -> None:
    # ViT's initialisation for training from scratch: truncated N(0, 0.02).
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)


@MODELS.register_module()
class VisionTransformer(nn.Module):
    """ViT image encoder returning every token: ``(B, 1 + H/p * W/p, C)``.

    Parameter names and numerics follow mmpretrain's ``VisionTransformer`` with
    ``out_type='raw'`` (final LayerNorm ``ln1``, eps 1e-6), so its checkpoints
    load unchanged. Position embeddings are resampled when a
    checkpoint was trained at another image size, and at run time for inputs of
    another size.

    Args:
        arch: ``'b'``/``'base'``, ``'l'``/``'large'`` or a dict with
            ``embed_dims``, ``num_layers``, ``num_heads``, ``feedforward_channels``.
        img_size: Training image size (sets the position-embedding grid).
        patch_size: Patch size.
        drop_rate: Dropout after attention and FFN.
        drop_path_rate: Stochastic depth, increasing linearly to this value.
        with_cp: Gradient checkpointing of each layer while training.
        cp_layers: With ``with_cp``, checkpoint only the last ``cp_layers``
            layers (BLIP's ``vit_ckpt_layer``: memory traded for compute where
            the activations are largest); None: every layer.
        pos_embed_init: How a model trained from scratch starts its position
            embeddings: ``'trunc_normal'`` (ViT's and mmpretrain's, N(0, 0.02))
            or ``'sincos'`` (2-D sine-cosine values, as MAE and MoCo v3: a
            small model trained briefly knows where each patch is from the
            first step). Loaded checkpoints overwrite either.
        pos_embed_temperature: The ``'sincos'`` frequencies run from 1 down
            to about ``1 / pos_embed_temperature`` per patch (MAE's 10000); a
            small grid uses more of its channels with a smaller value (the
            tiny shapes grounding model's 12 x 12 grid: 100).
    """

    def __init__(
        self,
        arch: str | dict = 'b',
        img_size: int = 384,
        patch_size: int = 16,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        with_cp: bool = False,
        cp_layers: int | None = None,
        pos_embed_init: str = 'trunc_normal',
        pos_embed_temperature: float = 10000.0,
    ):
        super().__init__()
        spec = ARCHS[arch] if isinstance(arch, str) else dict(arch)
        dims, num_layers = spec['embed_dims'], spec['num_layers']
        self.embed_dims = dims
        self.with_cp = with_cp
        self.cp_from = 0 if cp_layers is None else max(0, num_layers - cp_layers)
        self.patch_grid = (img_size // patch_size, img_size // patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.patch_grid[0] * self.patch_grid[1], dims))
        self.patch_embed = PatchEmbed(patch_size, dims)
        self.drop_after_pos = nn.Dropout(drop_rate)
        # Rising linearly to drop_path_rate (in Python: models build on the meta device too).
        drop_paths = [drop_path_rate * i / max(num_layers - 1, 1) for i in range(num_layers)]
        self.layers = nn.ModuleList(
            ViTLayer(dims, spec['num_heads'], spec['feedforward_channels'], drop_rate, p) for p in drop_paths
        )
        self.ln1 = nn.LayerNorm(dims, eps=1e-6)
        if pos_embed_init == 'sincos':
            with torch.no_grad():
                self.pos_embed.copy_(sincos_pos_embed(self.patch_grid, dims, pos_embed_temperature))
        elif pos_embed_init == 'trunc_normal':
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            raise ValueError(
                f"VisionTransformer: pos_embed_init must be 'trunc_normal' or 'sincos', "
                f'got {pos_embed_init!r}'
            )
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        self.layers.apply(_init_vit_weights)
        self._register_load_state_dict_pre_hook(self._resize_checkpoint_pos_embed)

    def _resize_checkpoint_pos_embed(self, state_dict, prefix, *args):
        key = prefix + 'pos_embed'
        if key in state_dict and state_dict[key].shape != self.pos_embed.shape:
            state_dict[key] = resize_pos_embed(state_dict[key], self.patch_grid)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Encode ``images`` (B, 3, H, W) into their tokens (B, N, C), class token first."""
        x, grid = self.patch_embed(images)
        cls = self.cls_token.expand(x.shape[0], -1, -1)
        pos_embed = self.pos_embed if grid == self.patch_grid else resize_pos_embed(self.pos_embed, grid)
        x = self.drop_after_pos(torch.cat([cls, x], dim=1) + pos_embed)
        for index, layer in enumerate(self.layers):
            if self.with_cp and self.training and index >= self.cp_from:
                x = checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        return self.ln1(x)
