"""Differentiable augmentation (DiffAugment, Zhao et al. 2020) for training GANs on little data.

The same random colour / translation / cutout transform family is applied to real *and* generated
images before the discriminator sees them, and gradients flow through it to G — so D cannot overfit
the few real photos and G is not taught to produce augmented-looking images.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .train_options import parse_policy  # noqa: F401 (its old home; the policy names are plain Python)


def _color(x: torch.Tensor) -> torch.Tensor:
    n = x.shape[0]
    x = x + (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)            # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


def _translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ``ratio`` of its size, padding with zeros (integer pixel shifts)."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), device=x.device)
    ys = (torch.arange(h, device=x.device).view(1, h, 1) - dy).clamp(-1, h)   # -1 / h → padding row/col
    xs = (torch.arange(w, device=x.device).view(1, 1, w) - dx).clamp(-1, w)
    padded = F.pad(x, [1, 1, 1, 1])
    idx_n = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[idx_n, ys + 1, xs + 1].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero one random square of ``ratio`` × the image size per image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    y0 = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), device=x.device) - ch // 2
    x0 = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), device=x.device) - cw // 2
    ys = torch.arange(h, device=x.device).view(1, h, 1)
    xs = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (ys >= y0) & (ys < y0 + ch) & (xs >= x0) & (xs < x0 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


#: The transforms by name: `train_options.AUGMENTATIONS`, the names `parse_policy` accepts, in their order.
POLICIES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "color": _color, "translation": _translation, "cutout": _cutout}


def diff_augment(x: torch.Tensor, policy: Sequence[str]) -> torch.Tensor:
    """Apply each named transform with fresh randomness per image; differentiable in ``x``."""
    for name in policy:
        x = POLICIES[name](x)
    return x.contiguous()
