"""Losses for projection: a choice of perceptual networks (the masked pixel terms are the shared
faithfulness measure, `evaluation.faithfulness.masked_pixel_losses`).

Perceptual choices, always reported in results: ``vgg16`` (torchvision's ImageNet VGG16 features,
from torchvision's cache or a local file), ``lpips`` (when the ``lpips`` package and its weights are
installed), ``disc`` (features of the model's own discriminator: works offline with our weights) and
``none``.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..base import LatentStudioError

from .options import PERCEPTUAL_CHOICES  # noqa: F401 (its old home)
VGG_LAYERS = {"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29}


class PerceptualLoss(nn.Module):
    """Per-image distance between feature stacks; subclasses give `features`."""

    name = "none"

    def features(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor] = None,
                y_feats: Optional[Sequence[torch.Tensor]] = None) -> torch.Tensor:
        if mask is not None:  # compare only what is inside the mask: paint the rest with the target
            x = x * mask + y * (1 - mask)
        fx = self.features(x)
        fy = y_feats if y_feats is not None else self.features(y)
        total = 0
        for a, b in zip(fx, fy):
            a = a / (a.square().sum(dim=1, keepdim=True).sqrt() + 1e-8)  # unit-normalise channels (LPIPS-style)
            b = b / (b.square().sum(dim=1, keepdim=True).sqrt() + 1e-8)
            total = total + (a - b).square().sum(dim=1).mean(dim=[1, 2])
        return total / len(fx)


class DiscriminatorFeatures(PerceptualLoss):
    """Activations of the GAN's own discriminator blocks (offline default)."""

    name = "disc"

    def __init__(self, D: nn.Module, max_blocks: int = 3) -> None:
        super().__init__()
        self.D, self.max_blocks = D, max_blocks

    def features(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        return self.D.features(x)[: self.max_blocks]


class VGG16Features(PerceptualLoss):
    """torchvision VGG16 (ImageNet) features at the chosen ReLU layers; input upsampled to ≥ 64 px."""

    name = "vgg16"

    def __init__(self, layers: Sequence[str] = ("relu1_2", "relu2_2", "relu3_3", "relu4_3"),
                 weights_path: Optional[str] = None) -> None:
        super().__init__()
        from torchvision.models import VGG16_Weights, vgg16
        unknown = [l for l in layers if l not in VGG_LAYERS]
        if unknown:
            raise LatentStudioError(f"Unknown VGG16 layers {unknown}: choose from {list(VGG_LAYERS)}.")
        net = vgg16(weights=None)
        weights_path = weights_path or os.environ.get("LATENT_STUDIO_VGG16")
        try:
            if weights_path:
                state = torch.load(weights_path, map_location="cpu", weights_only=True)
            else:
                state = VGG16_Weights.IMAGENET1K_V1.get_state_dict(progress=False, check_hash=True)
            net.load_state_dict(state)
        except Exception as exc:
            raise LatentStudioError(
                "VGG16 weights are not available (torchvision downloads them from download.pytorch.org on first "
                f"use: {type(exc).__name__}). Offline, put vgg16-397923af.pth in torchvision's cache "
                "(~/.cache/torch/hub/checkpoints) or pass its path with LATENT_STUDIO_VGG16, or use "
                "--perceptual disc.") from exc
        self.cut = sorted(VGG_LAYERS[l] for l in layers)
        self.body = net.features[: self.cut[-1] + 1].eval().requires_grad_(False)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def features(self, x: torch.Tensor) -> Sequence[torch.Tensor]:
        x = ((x + 1) / 2 - self.mean) / self.std
        if x.shape[-1] < 64:
            x = F.interpolate(x, size=64, mode="bilinear", align_corners=False)
        feats = []
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self.cut:
                feats.append(x)
        return feats


class LPIPSLoss(PerceptualLoss):
    """The ``lpips`` package's learned metric (VGG variant), when it and its weights are installed."""

    name = "lpips"

    def __init__(self) -> None:
        super().__init__()
        try:
            import lpips  # type: ignore
            self.net = lpips.LPIPS(net="vgg", verbose=False).eval().requires_grad_(False)
        except Exception as exc:
            raise LatentStudioError(f"LPIPS is not available ({type(exc).__name__}: {exc}); "
                                    "`pip install lpips` with internet, or use --perceptual disc / vgg16.") from exc

    def forward(self, x, y, mask=None, y_feats=None):
        if mask is not None:
            x = x * mask + y * (1 - mask)
        return self.net(x, y).flatten()


def make_perceptual(choice: str, D: Optional[nn.Module] = None, **kwargs) -> Optional[PerceptualLoss]:
    """Build the perceptual network named ``choice`` (see `PERCEPTUAL_CHOICES`), or None for "none"."""
    if choice == "none":
        return None
    if choice == "disc":
        if D is None:
            raise LatentStudioError("This model has no discriminator, so --perceptual disc is not available; "
                                    "use vgg16, lpips or none.")
        return DiscriminatorFeatures(D)
    if choice == "vgg16":
        return VGG16Features(**kwargs)
    if choice == "lpips":
        return LPIPSLoss()
    raise LatentStudioError(f"Unknown perceptual network {choice!r}: choose from {', '.join(PERCEPTUAL_CHOICES)}.")
