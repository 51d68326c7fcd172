"""Distance to real photos in a network's deep features: is this image among the photos, or off to one side?

The patch realism (`realism`) sees local texture; the cat-face detector (`cat_faces`) sees one face pattern.
This measure sees what a trained discriminator has learnt about whole images: every image is described by the
discriminator's second-to-last feature map (8×8 at 64 px: parts, not pixels), averaged over positions and
unit-normalised (as LPIPS does per position); its distance to the photos is the mean squared distance to its ``k`` nearest neighbours among stored
held-out photos. Divided by the same figure for the photos themselves (each against the others, median), it
reads: **1 ≈ a typical real photo, 2 = twice as far from the photos as they are from each other.**
On the default cat model (``python -m bench.photo_distance``): held-out photos 1.0 (90 % below 1.7), its samples
0.9, simple canvas drawings 1.9–2.6, hand-drawn sketches 2.7–4.3, saturated flat patches ~5 — but a flat *grey*
patch reads 0.7–1.1: like every discriminator measure it has blind spots, so it is shown beside the cat-face
detector and the patch realism (which gives a flat patch 0), never alone.

The feature function comes from the caller (the GAN engine gives its discriminator's), so this module knows
no network. `PhotoDistance.fit` builds the reference from photos (``python -m bench.photo_distance``);
each GAN model folder may hold its own (``photo_features.npz``), tied to that model by its fingerprint.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from ..base import LatentStudioError

FILE_NAME = "photo_features.npz"
LAYER = -2  # which of the network's feature maps (finest first): the 8×8 block at 64 px
POOL = 1  # positions per side it is pooled to
K = 5
METHOD = f"layer {LAYER}, pool {POOL}"  # stored with a reference: one made another way is not used


def vectors(feature_map: torch.Tensor) -> torch.Tensor:
    """[N, C, h, w] feature map → [N, C·POOL²] vectors whose squared distance is the per-position LPIPS-style one."""
    f = F.adaptive_avg_pool2d(feature_map.float(), POOL)
    f = f / (f.square().sum(1, keepdim=True).sqrt() + 1e-8)
    return f.flatten(1) / POOL  # so |a − b|² is the mean over positions of the per-position squared distance


class PhotoDistance:
    """Distance [N] of images to stored real photos, in units of the photos' own spacing (see the module doc)."""

    def __init__(self, reference: torch.Tensor, scale: float, features: Optional[Callable] = None,
                 fingerprint: str = "", k: int = K, resolution: int = 64) -> None:
        self.reference, self.scale, self.k, self.resolution = reference.float(), float(scale), int(k), int(resolution)
        self.features, self.fingerprint = features, fingerprint

    @staticmethod
    def _knn(query: torch.Tensor, reference: torch.Tensor, k: int, exclude_self: bool = False) -> torch.Tensor:
        d = torch.cdist(query, reference).square()
        if exclude_self:
            d.fill_diagonal_(float("inf"))
        return d.topk(min(k, reference.shape[0] - int(exclude_self)), dim=1, largest=False).values.mean(1)

    @torch.no_grad()
    def embed(self, images: torch.Tensor, chunk: int = 64) -> torch.Tensor:
        if self.features is None:
            raise LatentStudioError("This photo distance has no feature network attached.")
        x = images.detach().float().clamp(-1, 1)
        if x.shape[-1] != self.resolution or x.shape[-2] != self.resolution:  # e.g. a 512 px Stable Diffusion result
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="area")
        return torch.cat([vectors(self.features(x[i:i + chunk])[LAYER]).cpu() for i in range(0, len(x), chunk)])

    @torch.no_grad()
    def distance(self, images: torch.Tensor) -> torch.Tensor:
        """[N] distances of images [N, 3, R, R] in [-1, 1]; 1 ≈ a typical held-out photo."""
        return self._knn(self.embed(images), self.reference, self.k) / self.scale

    @classmethod
    @torch.no_grad()
    def fit(cls, photos: torch.Tensor, features: Callable, fingerprint: str = "", k: int = K) -> "PhotoDistance":
        """The reference from held-out photos [M, 3, R, R] the network never trained on."""
        model = cls(torch.zeros(1, 1), 1.0, features, fingerprint, k, photos.shape[-1])
        model.reference = model.embed(photos)
        model.scale = float(cls._knn(model.reference, model.reference, k, exclude_self=True).quantile(0.5))
        return model

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, reference=self.reference.numpy().astype(np.float16), scale=np.array(self.scale),
                            k=np.array(self.k), resolution=np.array(self.resolution), fingerprint=np.array(self.fingerprint), method=np.array(METHOD))
        return path

    @classmethod
    def load(cls, path: str | Path, features: Optional[Callable] = None) -> "PhotoDistance":
        """A saved reference; refused (with the command that rebuilds it) when it was made another way."""
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["method"]) != METHOD:
                    raise LatentStudioError(f"The photo-distance reference {path} was made with {data['method']}, "
                                            f"not {METHOD}: rebuild it with `python -m bench.photo_distance`.")
                return cls(torch.from_numpy(data["reference"].astype(np.float32)), float(data["scale"]), features,
                           str(data["fingerprint"]), int(data["k"]), int(data["resolution"]))
        except (OSError, KeyError, ValueError) as exc:
            raise LatentStudioError(f"Could not read the photo-distance reference {path}: {exc}") from exc
