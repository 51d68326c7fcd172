"""StyleGAN2 residual discriminator, laid out as the official StyleGAN2-ADA one.

Used for training and, offline, as our perceptual feature extractor: `features` returns the
activations after each block, which the projector compares between two images.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
from torch import nn

from .network_config import NetworkConfig
from .ops import Conv2dLayer, FullyConnectedLayer, setup_filter


@dataclass
class DiscriminatorConfig(NetworkConfig):
    c_dim: int = 0
    channel_base: int = 32768
    channel_max: int = 512
    mbstd_group_size: Optional[int] = 4  # None: one group holding the whole batch
    mbstd_num_channels: int = 1
    conv_clamp: Optional[float] = None


class DiscriminatorBlock(nn.Module):
    """fromRGB (first block only) → conv → down-conv, with a scaled residual 1×1 down-sampling skip."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, img_channels: int,
                 conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.register_buffer("resample_filter", setup_filter())
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2)

    def forward(self, x: Optional[torch.Tensor], img: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=math.sqrt(0.5))
        return y + x


class MinibatchStdLayer(nn.Module):
    """Appends the per-group standard deviation of features, so D can see a lack of variety."""

    def __init__(self, group_size: Optional[int], num_channels: int = 1) -> None:
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        while n % g:  # the official layer needs g | n; use the largest group that divides the batch
            g -= 1
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)
        y = y - y.mean(dim=0)
        y = (y.square().mean(dim=0) + 1e-8).sqrt()
        y = y.mean(dim=[2, 3, 4]).reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    def __init__(self, in_channels: int, cmap_dim: int, resolution: int, mbstd_group_size: Optional[int],
                 mbstd_num_channels: int, conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * resolution ** 2, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: Optional[torch.Tensor] = None) -> torch.Tensor:
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)
        x = self.out(self.fc(x.flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) / np.sqrt(self.cmap_dim)
        return x


def add_blocks(module: nn.Module, img_resolution: int, img_channels: int, channel_base: int, channel_max: int,
               conv_clamp: Optional[float] = None) -> dict[int, int]:
    """Give ``module`` the discriminator's residual backbone: blocks ``b{res}`` (`DiscriminatorBlock`) from
    ``img_resolution`` down to 8 px, listed in ``module.block_resolutions``; returns the channels per resolution
    (min(channel_base // res, channel_max), 4 px included). The discriminator and the encoder share it."""
    log2 = int(np.log2(img_resolution))
    module.block_resolutions = [2 ** i for i in range(log2, 2, -1)]
    channels = {res: min(channel_base // res, channel_max) for res in module.block_resolutions + [4]}
    for res in module.block_resolutions:
        in_ch = channels[res] if res < img_resolution else 0
        setattr(module, f"b{res}", DiscriminatorBlock(in_ch, channels[res], channels[res // 2], img_channels, conv_clamp))
    return channels


def run_blocks(module: nn.Module, img: torch.Tensor) -> list[torch.Tensor]:
    """The activations after each of ``module``'s backbone blocks (`add_blocks`), finest first; the last one feeds
    the 4 px epilogue."""
    feats, x = [], None
    for res in module.block_resolutions:
        x = getattr(module, f"b{res}")(x, img)
        feats.append(x)
    return feats


class StyleGAN2Discriminator(nn.Module):
    """Image [N, C, R, R] in [-1, 1] → realism logit [N, 1]."""

    def __init__(self, config: Optional[DiscriminatorConfig] = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = config or DiscriminatorConfig(**kwargs)
        self.img_resolution, self.c_dim = cfg.img_resolution, cfg.c_dim
        channels = add_blocks(self, cfg.img_resolution, cfg.img_channels, cfg.channel_base, cfg.channel_max,
                              cfg.conv_clamp)
        cmap_dim = 0
        if cfg.c_dim > 0:
            from .networks import MappingNetwork
            cmap_dim = channels[4]
            self.mapping = MappingNetwork(0, cfg.c_dim, cmap_dim, num_ws=None, w_avg_beta=None)
        self.b4 = DiscriminatorEpilogue(channels[4], cmap_dim, 4, cfg.mbstd_group_size, cfg.mbstd_num_channels,
                                        cfg.conv_clamp)

    def forward(self, img: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = run_blocks(self, img)[-1]
        cmap = self.mapping(None, c) if self.c_dim > 0 else None
        return self.b4(x, cmap)

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """Activations after each residual block, coarse-to-fine order reversed (finest first)."""
        return run_blocks(self, img)
