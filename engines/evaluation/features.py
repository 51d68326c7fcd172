"""LPIPS-style distances in the feature space of our own discriminator, so they work offline.

Each feature map is unit-normalised along channels; the distance of two images is the squared
difference summed over channels, averaged over positions, then over layers (LPIPS without learned
weights). Without a discriminator (or at another resolution) it falls back to RMS pixel distance.
"""
from __future__ import annotations

from typing import Any, Optional

import torch


def pixel_rms_matrix(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[len(a), len(b)] RMS pixel distances (images in [-1, 1] give values in [0, 2])."""
    return torch.cdist(a.flatten(1).float(), b.flatten(1).float()) / a[0].numel() ** 0.5


class FeatureDistance:
    """Distances between image batches (float [N, 3, R, R] in [-1, 1]) in discriminator features."""

    def __init__(self, features: Optional[Any] = None, name: str = "D features") -> None:
        """``features``: a network with ``features(x) -> list of maps`` (a GAN's discriminator features:
        `GanEngine.feature_distance`); None falls back to RMS pixel distance."""
        self.net = features
        self.name = name if features is not None else "rms pixels"

    @torch.no_grad()
    def features(self, x: torch.Tensor, chunk: int = 64) -> list[torch.Tensor]:
        """Unit-normalised feature maps per layer, for reuse against many queries (e.g. a real-photo pool)."""
        if self.net is None:
            return [x.float().cpu()]
        parts = [self.net.features(x[i:i + chunk].float().cpu()) for i in range(0, len(x), chunk)]
        return [torch.cat([p[k] for p in parts]) for k in range(len(parts[0]))]

    @staticmethod
    def _normalised(feats: list[torch.Tensor]) -> list[torch.Tensor]:
        return [f / (f.square().sum(1, keepdim=True).sqrt() + 1e-8) for f in feats]

    @torch.no_grad()
    def matrix(self, a: torch.Tensor, b: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """[len(a), len(b)] distances; ``b`` may be images or `features` computed before."""
        if self.net is None:
            pool = b[0] if isinstance(b, list) else b
            return pixel_rms_matrix(a, pool)
        fb = self._normalised(b if isinstance(b, list) else self.features(b))
        rows = []
        for x in a:
            fa = self._normalised(self.net.features(x[None].float().cpu()))
            rows.append(sum((p - q).square().sum(1).mean(dim=[1, 2]) for p, q in zip(fa, fb)) / len(fb))
        return torch.stack(rows)

    @torch.no_grad()
    def paired(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """[N] distances between a[i] and b[i] (e.g. a reconstruction and its target)."""
        if len(a) != len(b):
            raise ValueError(f"paired distances need equal batches, got {len(a)} and {len(b)}")
        if self.net is None:
            return (a.float() - b.float()).flatten(1).square().mean(1).sqrt()
        fa, fb = self._normalised(self.features(a)), self._normalised(self.features(b))
        return sum((p - q).square().sum(1).mean(dim=[1, 2]) for p, q in zip(fa, fb)) / len(fa)

    def nearest(self, a: torch.Tensor, pool: torch.Tensor | list[torch.Tensor]) -> torch.Tensor:
        """[N] distance of each image in ``a`` to its nearest neighbour in ``pool`` (realism)."""
        return self.matrix(a, pool).min(1).values
