"""Sliced Wasserstein distance between two image sets on Laplacian-pyramid patches (Karras et al., 2018).

Each set becomes, per pyramid level, a bag of random 7×7 patches (colour-normalised descriptors);
SWD compares the two bags along random 1-D projections, where Wasserstein distance is just the mean
gap between sorted values. Small at the finest level = fine texture matches; at the coarsest = layout
and colour. Reported ×1000 as in the paper. Needs no pretrained network, so it works offline.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F

_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = (_BINOMIAL[:, None] * _BINOMIAL[None, :]).to(x)
    k = k.expand(x.shape[1], 1, 5, 5)
    return F.conv2d(F.pad(x, [2, 2, 2, 2], mode="reflect"), k, groups=x.shape[1])


def laplacian_pyramid(images: torch.Tensor, min_resolution: int = 16) -> list[torch.Tensor]:
    """Band-pass levels finest first, ending with the low-pass image at ``min_resolution``."""
    levels, x = [], images.float()
    while x.shape[-1] > min_resolution:
        down = _blur(x)[..., ::2, ::2]
        up = F.interpolate(down, scale_factor=2, mode="nearest")
        levels.append(x - _blur(up))
        x = down
    levels.append(x)
    return levels


def _patches(level: torch.Tensor, count: int, size: int, gen: torch.Generator) -> torch.Tensor:
    n, c, h, w = level.shape
    idx = torch.randint(0, n, (count,), generator=gen)
    ys = torch.randint(0, h - size + 1, (count,), generator=gen)
    xs = torch.randint(0, w - size + 1, (count,), generator=gen)
    offs = torch.arange(size)
    rows = (ys[:, None] + offs[None, :])[:, :, None].expand(count, size, size)
    cols = (xs[:, None] + offs[None, :])[:, None, :].expand(count, size, size)
    patches = level.permute(0, 2, 3, 1)[idx[:, None, None], rows, cols]          # [count, size, size, c]
    patches = patches - patches.mean(dim=(0, 1, 2), keepdim=True)                   # per-channel normalisation
    patches = patches / patches.std(dim=(0, 1, 2), keepdim=True).clamp_min(1e-8)
    return patches.reshape(count, -1)


def _swd(a: torch.Tensor, b: torch.Tensor, directions: int, repeats: int, gen: torch.Generator) -> float:
    total = 0.0
    for _ in range(repeats):
        proj = torch.randn(a.shape[1], directions, generator=gen)
        proj = proj / proj.norm(dim=0, keepdim=True)
        pa, _ = torch.sort(a @ proj, dim=0)
        pb, _ = torch.sort(b @ proj, dim=0)
        total += float((pa - pb).abs().mean())
    return total / repeats


def sliced_wasserstein(images_a: torch.Tensor, images_b: torch.Tensor, *, patches: int = 32768,
                       patch_size: int = 7, directions: int = 512, repeats: int = 4, seed: int = 0,
                       min_resolution: int = 16) -> dict[str, float]:
    """SWD ×1000 per pyramid level (keyed by resolution, finest first) and their mean ("avg").

    Images are float [N, C, H, W] in any fixed range (e.g. [-1, 1]); both sets are sampled down to the
    same number of patches per level, so sets of different sizes compare fairly.
    """
    if images_a.shape[1:] != images_b.shape[1:]:
        raise ValueError(f"image sets differ in shape: {list(images_a.shape[1:])} vs {list(images_b.shape[1:])}")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, float] = {}
    for la, lb in zip(laplacian_pyramid(images_a.cpu(), min_resolution),
                      laplacian_pyramid(images_b.cpu(), min_resolution)):
        da, db = _patches(la, patches, patch_size, gen), _patches(lb, patches, patch_size, gen)
        out[str(la.shape[-1])] = 1e3 * _swd(da, db, directions, repeats, gen)
    out["avg"] = sum(out.values()) / len(out)
    return out


def blurred(images: torch.Tensor, passes: int = 1) -> torch.Tensor:
    """Real images with the binomial blur applied ``passes`` times: the yardstick of a soft generator."""
    for _ in range(passes):
        images = _blur(images.float())
    return images


def subset(images: torch.Tensor, n: Optional[int], seed: int = 0) -> torch.Tensor:
    """A random subset of ``n`` images (all of them when ``n`` is None or too large)."""
    if n is None or n >= len(images):
        return images
    return images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
