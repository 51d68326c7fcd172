"""Shared fixtures: tiny networks with every parameter randomised (so no mapping can hide behind zeros)."""
from __future__ import annotations

import pytest
import torch

from engines.stylegan.dcgan import DCGANDiscriminator, DCGANGenerator
from engines.stylegan.discriminator import StyleGAN2Discriminator
from engines.stylegan.networks import StyleGAN2Generator

TINY_SG2 = dict(img_resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32, mapping_layers=2)
TINY_DC = dict(img_resolution=32, z_dim=16, base_channels=8)


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point() and not name.endswith("resample_filter"):
                if "running_var" in name:
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=gen) * (0.2 if t.ndim <= 1 else 1.0))
    return module.eval().requires_grad_(False)


@pytest.fixture
def tiny_g() -> StyleGAN2Generator:
    return randomize(StyleGAN2Generator(**TINY_SG2), 1)


@pytest.fixture
def tiny_d() -> StyleGAN2Discriminator:
    return randomize(StyleGAN2Discriminator(img_resolution=32, channel_base=512, channel_max=32), 2)


@pytest.fixture
def tiny_dcgan() -> tuple[DCGANGenerator, DCGANDiscriminator]:
    return randomize(DCGANGenerator(**TINY_DC), 3), randomize(DCGANDiscriminator(**TINY_DC), 4)


def make_engine(G, D=None, arch="stylegan2"):
    """A GanEngine over in-memory networks (no files), on CPU."""
    from engines.stylegan.checkpoints import GanBundle
    from engines.stylegan.engine import GanEngine
    config = {"arch": arch, "generator": G.config.as_dict(), "discriminator": D.config.as_dict() if D else None}
    return GanEngine(device="cpu", bundle=GanBundle(G=G, D=D, arch=arch, source="test", config=config))


@pytest.fixture
def tiny_engine(tiny_g, tiny_d):
    return make_engine(tiny_g, tiny_d)


@pytest.fixture
def tiny_dcgan_engine(tiny_dcgan):
    return make_engine(*tiny_dcgan, arch="dcgan")
