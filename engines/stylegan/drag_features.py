"""Drag's feature-space modes (issue 28): besides the first w+ rows, a learnable edit of one synthesis block's
outputs, so the later blocks re-render the moved content.

* ``warp``: a smooth displacement field D (image pixels; a free field at the block's resolution, Gaussian-blurred by
  ``sigma`` image pixels, times the mask where there is one) applied to the block's features *and* its skip image by
  bilinear backward warping, out(q) = in(q − D(q)): content at p lands at p + D(p). Warping both is exactly warping
  every block up to that resolution (toRGB is 1×1, the skip image a sum), so the coarse structure moves as a whole
  and the finer blocks paint their detail (and their fixed noise) at the new place.
* ``offset``: an additive offset on the block's features (blurred the same way); the skip image is left as it is.
* ``local``: a warp made of one Gaussian bump of displacement per handle, a "liquify" move:
  D(q) = Σ_i a_i · exp(−‖q − h_i − a_i‖² / 2σ²) with h_i the handle's start and a_i [2] (image pixels) the only
  parameters. The bump is centred where the handle goes, so out(h_i + a_i) = in(h_i) exactly, and the warp does
  not fold while ‖a_i‖ < σ·√e (a longer move widens its σ to keep it so). Everything further than ~3σ from the handles stays where it was: unlike a free field
  optimised by Adam (whose per-parameter step moves far pixels as fast as near ones), it cannot drift elsewhere.

Penalty: mean(D²) (image pixels²) for a warp (free or local), mean(offset²) for an offset, times ``reg``. Everything here is
tensors; `drag.drag` optimises ``param`` beside the w+ rows and hands the final edit back in ``Drag.edit``.
"""
from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F

KINDS = ("none", "warp", "offset", "local")


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``x`` [N, C, H, W] (``sigma`` in its pixels; replicate padding)."""
    if sigma <= 0.05:
        return x
    r = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-torch.arange(-r, r + 1, dtype=x.dtype, device=x.device).square() / (2 * sigma ** 2))
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def warp(x: torch.Tensor, field: torch.Tensor, img_resolution: int) -> torch.Tensor:
    """``x`` [N, C, r, r] backward-warped by ``field`` [1, 2, r', r'] (x, y displacement in image pixels, resized to r)."""
    r = x.shape[-1]
    if field.shape[-1] != r:
        field = F.interpolate(field, size=(r, r), mode="bilinear", align_corners=False)
    lin = (torch.arange(r, dtype=x.dtype, device=x.device) + 0.5) * 2 / r - 1
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack([gx, gy], dim=-1)[None]                                      # [1, r, r, 2] (x, y)
    grid = base - field.permute(0, 2, 3, 1).to(x.dtype) * (2 / img_resolution)
    return F.grid_sample(x, grid.expand(x.shape[0], -1, -1, -1), mode="bilinear", padding_mode="border",
                         align_corners=False)


#: A drag's warp of block ``r``'s output travels with the latent among its noise maps as ``warp<r>`` [N, 2, r, r]
#: (x, y displacement in image pixels), so every renderer (Edit, Interpolate, a further drag) draws the dragged image;
#: `SynthesisNetwork.forward` applies it, `latents.load_noise` checks it.
WARP_PREFIX = "warp"


def warp_key(resolution: int) -> str:
    return f"{WARP_PREFIX}{int(resolution)}"


def warp_resolution(key: str) -> Optional[int]:
    """The block resolution ``r`` of a ``warp<r>`` key; None for any other key (a noise layer's)."""
    tail = key[len(WARP_PREFIX):]
    return int(tail) if key.startswith(WARP_PREFIX) and tail.isdigit() else None


def stored_warps(noise: Optional[dict]) -> dict[int, torch.Tensor]:
    """{block resolution: field [N, 2, r, r]} of the ``warp<r>`` entries of a noise-map dict."""
    return {r: v for k, v in (noise or {}).items() if (r := warp_resolution(k)) is not None}


def compose(old: torch.Tensor, new: torch.Tensor, img_resolution: int) -> torch.Tensor:
    """The one field that does ``old`` then ``new`` (backward warps, [1, 2, r, r]): out(q) = in(q − D(q)) with
    D(q) = D_new(q) + D_old(q − D_new(q))."""
    return new + warp(old.to(new), new, img_resolution)


class FeatureEdit:
    """A learnable ``kind`` edit after block ``resolution`` of a generator with ``channels`` there; call it as a
    ``feature_edits`` entry of `SynthesisNetwork.forward`."""

    def __init__(self, kind: str, resolution: int, channels: int, img_resolution: int, sigma: float,
                 device: torch.device, mask: Optional[torch.Tensor] = None,
                 param: Optional[torch.Tensor] = None, centers: Optional[torch.Tensor] = None) -> None:
        if kind not in KINDS[1:]:
            raise ValueError(f"feature edit kind must be one of {KINDS[1:]}, got {kind!r}")
        if kind == "local" and param is None and centers is None:
            raise ValueError("a local feature edit needs the handles' start points (centers [P, 2])")
        self.kind, self.resolution, self.img_resolution, self.sigma = kind, resolution, img_resolution, sigma
        self.centers = centers.detach().to(device, torch.float32) if centers is not None else None
        shape = ([len(centers), 2] if kind == "local" and param is None else
                 [1, 2 if kind == "warp" else channels, resolution, resolution])
        self.param = (param.detach().clone() if param is not None else torch.zeros(shape)).to(device).requires_grad_(True)
        self.fixed = param is not None  # rebuilt from a saved state: ``param`` is the final field itself
        self.base: Optional[torch.Tensor] = None  # a warp already there (a dragged latent's): value() composes it
        self.mask = None
        if mask is not None:  # 1 = may change, at the block's resolution
            self.mask = F.adaptive_avg_pool2d(mask.to(device, torch.float32), resolution)

    def value(self) -> torch.Tensor:
        """The blurred (and masked) field or offset [1, K, r, r]."""
        if self.fixed:
            v = self.param
        elif self.kind == "local":
            v = self.bumps()
        else:
            v = gaussian_blur(self.param, self.sigma * self.resolution / self.img_resolution)
        v = v * self.mask if self.mask is not None else v
        return compose(self.base, v, self.img_resolution) if self.base is not None and not self.fixed else v

    def bumps(self) -> torch.Tensor:
        """The local kind's field [1, 2, r, r]: Σ_i a_i · exp(−‖q − h_i − a_i‖² / 2σ²), q the block's pixel centres
        in image pixels."""
        r, scale = self.resolution, self.img_resolution / self.resolution
        c = (torch.arange(r, dtype=torch.float32, device=self.param.device) + 0.5) * scale - 0.5
        gy, gx = torch.meshgrid(c, c, indexing="ij")
        q = torch.stack([gx, gy])                                                   # [2, r, r] (x, y)
        moved = (self.centers + self.param)[:, :, None, None]                      # [P, 2, 1, 1]
        # σ per handle, widened for a long move so that the warp never folds (it would while ‖a‖ ≥ σ·√e)
        sigma = (self.param.detach().norm(dim=1) * (1.1 / math.sqrt(math.e))).clamp(min=max(self.sigma, 0.5))
        weight = torch.exp(-(q[None] - moved).square().sum(1, keepdim=True) / (2 * sigma.square()[:, None, None, None]))
        return (self.param[:, :, None, None] * weight).sum(0, keepdim=True)         # [1, 2, r, r]

    def __call__(self, x: torch.Tensor, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.value()
        if self.kind in ("warp", "local"):
            return warp(x, v, self.img_resolution), warp(img, v, self.img_resolution)
        return x + v.to(x.dtype), img

    def penalty(self) -> torch.Tensor:
        return self.value().square().mean()

    def edits(self) -> dict:
        """The ``feature_edits`` argument of the synthesis network."""
        return {self.resolution: self}

    def state(self) -> dict:
        """What reproduces it (`from_state`): kind, block resolution and the final field / offset (on the CPU)."""
        return {"kind": self.kind, "resolution": self.resolution, "value": self.value().detach().cpu().clone()}

    @classmethod
    def from_state(cls, state: dict, img_resolution: int, device: torch.device) -> "FeatureEdit":
        v = torch.as_tensor(state["value"], dtype=torch.float32)
        return cls(state["kind"], int(state["resolution"]), v.shape[1], img_resolution, 0.0, device, param=v)
