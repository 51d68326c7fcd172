"""Faithfulness: how close a result is to what the user gave (a photo, or the strokes of a sketch).

One set of measures for every engine and every caller (the engines' metrics, the GAN vs diffusion
comparison, the benchmarks): tensors [N, C, H, W] in [-1, 1], an optional mask [1|N, 1, H, W] in [0, 1].
"""
from __future__ import annotations

from typing import Optional

import torch
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def masked_pixel_losses(x: torch.Tensor, y: torch.Tensor, mask: Optional[torch.Tensor] = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (L1, L2) means over masked pixels only (mask [N|1, 1, H, W] in [0, 1]; None = all): ([N], [N])."""
    diff = x - y
    if mask is None:
        return diff.abs().mean(dim=[1, 2, 3]), diff.square().mean(dim=[1, 2, 3])
    m = mask.expand(x.shape[0], 1, *x.shape[2:])
    denom = (m.sum(dim=[1, 2, 3]) * x.shape[1]).clamp_min(1e-8)
    return (diff.abs() * m).sum(dim=[1, 2, 3]) / denom, (diff.square() * m).sum(dim=[1, 2, 3]) / denom


@torch.no_grad()
def reconstruction(images: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor] = None) -> dict[str, list]:
    """PSNR (dB) and SSIM per image against a whole target, or the masked L2 (in [0, 1] units) under a mask.

    Returns ``{"psnr", "ssim", "l2"}`` without a mask and ``{"masked_l2"}`` with one, each a list [N].
    """
    x, y = ((images + 1) / 2).clamp(0, 1), (target + 1) / 2
    _, l2 = masked_pixel_losses(x, y, mask)
    if mask is not None:
        return {"masked_l2": l2.tolist()}
    return {"psnr": peak_signal_noise_ratio(x, y, data_range=1.0, reduction="none", dim=[1, 2, 3]).tolist(),
            "ssim": structural_similarity_index_measure(x, y, data_range=1.0, reduction="none").tolist(),
            "l2": l2.tolist()}
