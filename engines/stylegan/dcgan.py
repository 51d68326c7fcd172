"""The "vanilla GAN" of the course seeds: a DCGAN generator and discriminator (z-space only).

It exposes the same generator surface as `StyleGAN2Generator` (``z_dim``, ``img_resolution``,
``spaces``, ``forward(z, truncation_psi=…)``, ``synthesize(latent, "z")``), so every GAN operation
works with either and users can compare them.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Optional

import torch
from torch import nn


@dataclass
class DCGANConfig:
    img_resolution: int = 64
    img_channels: int = 3
    z_dim: int = 100
    base_channels: int = 64  # channels of the last hidden layer; doubled at each coarser scale

    def __post_init__(self) -> None:
        log2 = math.log2(self.img_resolution)
        if log2 != int(log2) or not 8 <= self.img_resolution <= 1024:
            raise ValueError(f"img_resolution must be a power of two in [8, 1024], got {self.img_resolution}")

    @property
    def num_ups(self) -> int:
        return int(math.log2(self.img_resolution)) - 2

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class DCGANGenerator(nn.Module):
    """z [N, z_dim] → 4×4 (transposed conv) → ×2 per stage (transposed conv, BN, ReLU) → tanh image."""

    arch = "dcgan"
    spaces = ("z",)

    def __init__(self, config: Optional[DCGANConfig] = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = config or DCGANConfig(**kwargs)
        self.z_dim, self.c_dim = cfg.z_dim, 0
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        ch = [cfg.base_channels * 2 ** i for i in reversed(range(cfg.num_ups))]
        layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.z_dim, ch[0], 4, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch[:-1], ch[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(ch[-1], cfg.img_channels, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, noise_mode: str = "const",
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        # DCGAN has no w space: truncation scales z toward its mean (0), the usual analogue.
        return self.main((z * truncation_psi).reshape(z.shape[0], self.z_dim, 1, 1))

    def synthesize(self, latent: torch.Tensor, space: str = "z", noise_mode: str = "const",
                   noise: Optional[dict] = None) -> torch.Tensor:
        if space != "z":
            raise ValueError(f"DCGAN only has a z space, not {space!r}")
        return self.main(latent.reshape(latent.shape[0], self.z_dim, 1, 1))


class DCGANDiscriminator(nn.Module):
    """Image → ×½ per stage (conv, BN, LeakyReLU) → 4×4 → logit [N, 1]. `features` as StyleGAN2's D."""

    def __init__(self, config: Optional[DCGANConfig] = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = config or DCGANConfig(**kwargs)
        self.img_resolution = cfg.img_resolution
        ch = [cfg.base_channels * 2 ** i for i in range(cfg.num_ups)]
        blocks = [nn.Sequential(nn.Conv2d(cfg.img_channels, ch[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, True))]
        for a, b in zip(ch[:-1], ch[1:]):
            blocks.append(nn.Sequential(nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b),
                                        nn.LeakyReLU(0.2, True)))
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Conv2d(ch[-1], 1, 4, 1, 0, bias=False)

    def forward(self, img: torch.Tensor, c: Optional[torch.Tensor] = None) -> torch.Tensor:
        x = img
        for block in self.blocks:
            x = block(x)
        return self.out(x).flatten(1)

    def features(self, img: torch.Tensor) -> list[torch.Tensor]:
        feats, x = [], img
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return feats
