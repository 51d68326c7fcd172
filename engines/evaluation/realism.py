"""Realism: how much an image's local statistics look like those of real photos, as a score in [0, 1].

Faithfulness alone rewards a flat colour patch (it matches a colour scribble perfectly), and a GAN's own
discriminator is no judge either: it has never seen flat patches and scores them like real photos. So the
realism score needs no network: per Laplacian-pyramid level (64, 32 and 16 px: fine texture, features,
layout), every 7×7 patch of the image is projected on fixed random directions, and the distribution of
those projections is compared with that of patches of real photos (the sliced Wasserstein distance of
`swd`, per image, against stored quantiles). The mean over levels is the image's *patch distance*.

The score calibrates it on held-out real photos the statistics never saw: the share of those photos whose
own patch distance is at least as large. A typical real photo scores about 0.5; a flat colour patch,
noise or a bare sketch scores near 0; a soft, blurry image scores low. It measures local statistics,
not whether the content is a cat: report it beside faithfulness, never alone.

`PatchRealism.fit` builds the statistics from photos (``python -m bench.realism``); `PatchRealism.default`
loads ours, fitted on the cat photos (``weights/realism-cats64.npz``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..base import LatentStudioError
from ..sources import default_path
from .swd import laplacian_pyramid

PATCH = 7
STRIDE = 2


def _patches(level: torch.Tensor) -> torch.Tensor:
    """Every 7×7 patch (stride 2) of each image: [N, P, C·49]."""
    return F.unfold(level, PATCH, stride=STRIDE).transpose(1, 2)


@dataclass
class _Level:
    mean: torch.Tensor        # [D] patch mean of the real photos
    scale: float              # their mean per-dimension standard deviation
    directions: torch.Tensor  # [D, K] unit projection directions
    quantiles: torch.Tensor   # [Q, K] quantiles of the real patches' projections


class PatchRealism:
    """Per-image patch distance to real photos and its calibrated realism score (see the module doc)."""

    def __init__(self, levels: list[_Level], reference: torch.Tensor, resolution: int) -> None:
        self.levels, self.resolution = levels, int(resolution)
        self.reference = torch.sort(reference.float()).values  # patch distances of held-out real photos
        self.q = torch.linspace(0.5 / len(levels[0].quantiles), 1 - 0.5 / len(levels[0].quantiles),
                                len(levels[0].quantiles))

    # ------------------------------------------------------------------ measuring
    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 3:
            raise LatentStudioError(f"Realism needs RGB images [N, 3, H, W], got {list(images.shape)}.")
        x = images.detach().float().cpu().clamp(-1, 1)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area" if x.shape[-1] > self.resolution
                              else "bilinear", align_corners=None if x.shape[-1] > self.resolution else False)
        return x

    @torch.no_grad()
    def distance(self, images: torch.Tensor) -> torch.Tensor:
        """Patch distance [N] of images [N, 3, H, W] in [-1, 1] (resized to the statistics' resolution)."""
        x = self._prepare(images)
        per_level = []
        for stats, level in zip(self.levels, laplacian_pyramid(x)):
            proj = ((_patches(level) - stats.mean) / stats.scale) @ stats.directions      # [N, P, K]
            q = torch.quantile(proj, self.q.to(proj), dim=1)                               # [Q, N, K]
            per_level.append((q - stats.quantiles[:, None, :]).abs().mean(dim=(0, 2)))
        return torch.stack(per_level, dim=1).mean(dim=1)

    @torch.no_grad()
    def score(self, images: torch.Tensor) -> torch.Tensor:
        """Realism [N] in [0, 1]: the share of held-out real photos whose patch distance is at least this image's."""
        d = self.distance(images)
        below = torch.searchsorted(self.reference, d, right=False)
        return 1.0 - below.float() / len(self.reference)

    # ------------------------------------------------------------------ fitting and files
    @classmethod
    @torch.no_grad()
    def fit(cls, train: torch.Tensor, heldout: torch.Tensor, *, directions: int = 64, quantiles: int = 64,
            max_patches: int = 200_000, seed: int = 0) -> "PatchRealism":
        """Statistics of ``train`` photos [N, 3, R, R] in [-1, 1], calibrated on ``heldout`` photos."""
        gen = torch.Generator().manual_seed(seed)
        q = torch.linspace(0.5 / quantiles, 1 - 0.5 / quantiles, quantiles)
        levels = []
        for level in laplacian_pyramid(train.float().cpu()):
            p = _patches(level).reshape(-1, level.shape[1] * PATCH * PATCH)
            p = p[torch.randperm(len(p), generator=gen)[:max_patches]]
            mean, scale = p.mean(dim=0), float(p.std(dim=0).mean())
            d = torch.randn(p.shape[1], directions, generator=gen)
            d = d / d.norm(dim=0, keepdim=True)
            levels.append(_Level(mean, scale, d, torch.quantile((p - mean) / scale @ d, q, dim=0)))
        model = cls(levels, torch.zeros(1), train.shape[-1])
        model.reference = torch.sort(model.distance(heldout)).values
        return model

    def save(self, path: str | Path) -> Path:
        arrays = {"resolution": np.array(self.resolution), "reference": self.reference.numpy()}
        for i, lv in enumerate(self.levels):
            arrays.update({f"mean{i}": lv.mean.numpy(), f"scale{i}": np.array(lv.scale),
                           f"directions{i}": lv.directions.numpy(), f"quantiles{i}": lv.quantiles.numpy()})
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, **{k: v.astype(np.float32) if v.dtype.kind == "f" else v for k, v in arrays.items()})
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PatchRealism":
        try:
            with np.load(path, allow_pickle=False) as data:
                n = sum(1 for k in data.files if k.startswith("mean"))
                t = lambda k: torch.from_numpy(np.array(data[k], dtype=np.float32))  # noqa: E731
                levels = [_Level(t(f"mean{i}"), float(data[f"scale{i}"]), t(f"directions{i}"), t(f"quantiles{i}"))
                          for i in range(n)]
                return cls(levels, t("reference"), int(data["resolution"]))
        except (OSError, KeyError, ValueError) as exc:
            raise LatentStudioError(f"{Path(path).name} is not a realism statistics file ({exc}).") from exc

    _default: Optional["PatchRealism"] = None

    @classmethod
    def default(cls) -> Optional["PatchRealism"]:
        """Ours (fitted on the cat photos, 64 px), loaded once; None when the file is not there."""
        if cls._default is None:
            path = default_path("realism")
            if not path.is_file():
                return None
            cls._default = cls.load(path)
        return cls._default
