"""Faithfulness: how close a result is to what the user gave (a photo, or the strokes of a sketch).

One set of measures for every engine and every caller (the engines' metrics, the GAN vs diffusion
comparison, the benchmarks): tensors [N, C, H, W] in [-1, 1], an optional mask [1|N, 1, H, W] in [0, 1].

PSNR and SSIM are our own few lines (`psnr`, `ssim`), equal to torchmetrics' defaults (tested against them):
importing torchmetrics cost 3.3 s of every CLI run and app start for two formulas (`bench.startup`).
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F


def masked_pixel_losses(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor] = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (L1, L2) means over masked pixels only (mask [N|1, 1, H, W] in [0, 1]; None = all): ([N], [N])."""
    diff = x - y
    if mask is None:
        return diff.abs().mean(dim=[1, 2, 3]), diff.square().mean(dim=[1, 2, 3])
    m = mask.expand(x.shape[0], 1, *x.shape[2:])
    denom = (m.sum(dim=[1, 2, 3]) * x.shape[1]).clamp_min(1e-8)
    return (diff.abs() * m).sum(dim=[1, 2, 3]) / denom, (diff.square() * m).sum(dim=[1, 2, 3]) / denom


#: The colour layout of a drawing: what a person means by "a cat with this layout" (16×16 cells of a 64 px image).
LAYOUT_RESOLUTION = 16


def masked_pool(x: torch.Tensor, mask: Optional[torch.Tensor], resolution: int
                ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """``x`` [N, C, H, W] averaged over ``resolution``² cells, counting masked pixels only, and the share of each
    cell under the mask ([N|1, 1, r, r]; the weight of that cell in a masked loss). A cell without masked pixels
    gets 0 and weight 0. ``resolution`` must divide H."""
    k = x.shape[-1] // resolution
    if k <= 1:
        return x, mask
    if x.shape[-1] % resolution:
        raise ValueError(f"{resolution} does not divide the image side {x.shape[-1]}")
    if mask is None:
        return F.avg_pool2d(x, k), None
    weight = F.avg_pool2d(mask, k)
    return F.avg_pool2d(x * mask, k) / weight.clamp_min(1e-8), weight


def pooled_pixel_losses(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor], resolution: int
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """`masked_pixel_losses` of ``x`` and ``y`` after `masked_pool` to ``resolution``: the pixels' colour layout at
    that scale is compared, not their lines and texture."""
    xp, weight = masked_pool(x, mask, resolution)
    yp, _ = masked_pool(y, mask, resolution)
    return masked_pixel_losses(xp, yp, weight)


@torch.no_grad()
def layout_l2(images: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None,
              resolution: int = LAYOUT_RESOLUTION) -> list[float]:
    """Masked L2 (in [0, 1] units) of the colour layout: both images pooled to ``resolution``² under the mask."""
    side = images.shape[-1]
    resolution = min(resolution, side)
    while side % resolution:
        resolution -= 1
    x, y = ((images + 1) / 2).clamp(0, 1), (target + 1) / 2
    return pooled_pixel_losses(x, y, mask, resolution)[1].tolist()


@torch.no_grad()
def reconstruction(images: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None) -> dict[str, list]:
    """PSNR (dB) and SSIM per image against a whole target, or the masked L2 (in [0, 1] units) under a mask.

    Returns ``{"psnr", "ssim", "l2"}`` without a mask and ``{"masked_l2", "layout_l2"}`` with one (``layout_l2``:
    the same at 16×16, `layout_l2`), each a list [N].
    """
    x, y = ((images + 1) / 2).clamp(0, 1), (target + 1) / 2
    _, l2 = masked_pixel_losses(x, y, mask)
    if mask is not None:
        return {"masked_l2": l2.tolist(), "layout_l2": layout_l2(images, target, mask)}
    return {"psnr": psnr(x, y).tolist(), "ssim": ssim(x, y).tolist(), "l2": l2.tolist()}


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Peak signal-to-noise ratio (dB) per image of [N, C, H, W] tensors whose values span ``data_range``: [N]."""
    mse = (x.float() - y.float()).square().mean(dim=[1, 2, 3])
    return 10 * torch.log10(data_range ** 2 / mse)


#: SSIM's Gaussian window (Wang et al. 2004; torchmetrics' defaults): σ 1.5, 11 taps, K1 0.01, K2 0.03.
SSIM_SIGMA, SSIM_TAPS, SSIM_K1, SSIM_K2 = 1.5, 11, 0.01, 0.03


def ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Structural similarity per image of [N, C, H, W] tensors whose values span ``data_range``: [N].

    Local means, variances and covariance under an 11-tap Gaussian window (σ 1.5) per channel, on the images
    reflect-padded by 5 px, averaged over every pixel and channel (torchmetrics'
    ``structural_similarity_index_measure`` with its defaults does the same; images need more than 5 px a side)."""
    x, y = x.float(), y.float()
    channels, pad = x.shape[1], SSIM_TAPS // 2
    taps = torch.arange(SSIM_TAPS, dtype=torch.float32, device=x.device) - pad
    g = torch.exp(-0.5 * (taps / SSIM_SIGMA) ** 2)
    g = g / g.sum()
    window = (g[:, None] * g[None, :]).expand(channels, 1, SSIM_TAPS, SSIM_TAPS)
    padded = F.pad(torch.cat([x, y]), (pad, pad, pad, pad), mode="reflect")
    xp, yp = padded.chunk(2)
    stack = torch.cat([xp, yp, xp * xp, yp * yp, xp * yp])
    mu_x, mu_y, xx, yy, xy = F.conv2d(stack, window, groups=channels).chunk(5)
    var_x = (xx - mu_x.square()).clamp_min(0)
    var_y = (yy - mu_y.square()).clamp_min(0)
    cov = xy - mu_x * mu_y
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    index = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x.square() + mu_y.square() + c1) * (var_x + var_y + c2))
    return index.flatten(1).mean(dim=1)
