"""Whether an edit kept the photo's layout: SSIM of blurred greyscale versions (structure at the scale of parts —
eyes, ears, the outline of the head — not of fur), the figure issue 29's translation goal is stated in."""
from __future__ import annotations

import torch
import torch.nn.functional as F

#: Gaussian σ of the blur, in pixels of a 64 px image (scaled with the image)
SIGMA_AT_64 = 1.5


def blurred_grey(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """[N, 3, H, W] in [-1, 1] → luminance [N, 1, H, W] in [-1, 1], Gaussian-blurred with ``sigma`` px."""
    grey = (0.299 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2])[:, None]
    radius = max(1, int(3 * sigma))
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    k = torch.exp(-x.square() / (2 * sigma ** 2))
    k = k / k.sum()
    grey = F.pad(grey, (radius,) * 4, mode="reflect")
    grey = F.conv2d(grey, k.view(1, 1, 1, -1))
    return F.conv2d(grey, k.view(1, 1, -1, 1))


@torch.no_grad()
def layout_ssim(images: torch.Tensor, target: torch.Tensor) -> list[float]:
    """SSIM per image between blurred greyscale ``images`` [N, 3, H, W] and ``target`` [1 or N, 3, H, W] (both in
    [-1, 1]): 1 = the same layout; around 0.2–0.3 between unrelated cat photos."""
    from .faithfulness import reconstruction  # SSIM lives there (torchmetrics, imported on use)
    sigma = SIGMA_AT_64 * images.shape[-1] / 64
    a, b = blurred_grey(images.float(), sigma), blurred_grey(target.float(), sigma).expand(len(images), -1, -1, -1)
    return reconstruction(a.expand(-1, 3, -1, -1), b.expand(-1, 3, -1, -1))["ssim"]
