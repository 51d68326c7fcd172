"""Latent interpolation: a path between two codes (or two inverted photos), rendered as frames.

z is Gaussian, so its codes live near a sphere: straight lines through the middle would pass through
unlikely, low-norm codes, hence slerp there. w and w+ come out of the mapping network and have no such
shape, so a straight line (lerp) is the natural path. A naive pixel crossfade between the two
endpoint renders is produced beside it, so users can see what the model adds over a blend.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from ..base import LatentStudioError, ProgressCallback, Result, Timer, check_range, report
from .. import imaging
from .latents import is_latent_source
from .drag_features import stored_warps, warp_key
from .view import GanModel, GanView

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")
SPACES = ("z", "w", "w+")
_PARALLEL_EPS = 1e-6


def lerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Straight line ``a + t·(b − a)``; ``t`` broadcasts against ``a``."""
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    return a + t * (b - a)


def slerp(a: torch.Tensor, b: torch.Tensor, t: float | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation per row (last dimension): slerp the directions, lerp the norms.

    Lerping the norms keeps every point's norm between the endpoint norms (equal norms stay on their
    sphere, as plain slerp does). Where the rows are (anti)parallel the great circle is undefined, so
    those rows fall back to `lerp` (for parallel rows that is the same path anyway).
    """
    dtype = a.dtype  # work in float64: arccos near ±1 is too coarse in float32
    a, b = a.double(), b.double()
    t = torch.as_tensor(t, dtype=a.dtype, device=a.device)
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-12), b / nb.clamp_min(1e-12)
    cos = (ua * ub).sum(dim=-1, keepdim=True).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    sin = torch.sin(omega)
    degenerate = (1.0 - cos.abs() < _PARALLEL_EPS) | (na < 1e-12) | (nb < 1e-12)
    safe_sin = torch.where(degenerate, torch.ones_like(sin), sin)
    direction = (torch.sin((1.0 - t) * omega) * ua + torch.sin(t * omega) * ub) / safe_sin
    out = direction * ((1.0 - t) * na + t * nb)
    return torch.where(degenerate, lerp(a, b, t), out).to(dtype)


def latent_path(a: torch.Tensor, b: torch.Tensor, space: str, frames: int) -> torch.Tensor:
    """``frames`` codes from ``a`` to ``b`` (one latent each, no batch dim) → ``[frames, …]``.

    z uses slerp, w and w+ lerp; t = linspace(0, 1, frames), and the endpoints are copied in exactly
    so frame 0 renders exactly like ``a`` and the last frame exactly like ``b``.
    """
    check_range("Frames", frames, 2, 240, integer=True)
    if space not in SPACES:
        raise LatentStudioError(f"Unknown latent space {space!r}: use one of {', '.join(SPACES)}.")
    if a.shape != b.shape:
        raise LatentStudioError(f"The two latents have different shapes {list(a.shape)} and {list(b.shape)}.")
    t = torch.linspace(0.0, 1.0, int(frames), dtype=a.dtype, device=a.device).view(-1, *([1] * a.dim()))
    path = (slerp if space == "z" else lerp)(a[None], b[None], t)
    path[0], path[-1] = a, b
    return path


def noise_path(a: Optional[dict[str, torch.Tensor]], b: Optional[dict[str, torch.Tensor]], G: Any,
               frames: int) -> Optional[list[dict[str, torch.Tensor]]]:
    """Per frame the noise maps between two endpoints' maps ([1, 1, r, r] per layer; None: the model's
    constant noise), or None when neither endpoint has its own. A variance-preserving blend,
    ``((1 − t)·a + t·b) / √((1 − t)² + t²)``, so the middle frames are as detailed as the ends; the end
    frames use the endpoints' maps exactly. A dragged endpoint's warp (``warp<r>``) goes from the other endpoint's
    (none: zero displacement) linearly, so the path plays the drag out."""
    if not a and not b:
        return None
    layers = G.synthesis.noise_layers()

    def maps(x: Optional[dict[str, torch.Tensor]], name: str) -> torch.Tensor:
        if x and name in x:
            return x[name][:1]
        const = layers[name].noise_const
        return const.detach().float()[None, None]

    warps = sorted(set(stored_warps(a)) | set(stored_warps(b)))
    shapes = {r: next(x[warp_key(r)][:1] for x in (a, b) if x and warp_key(r) in x) for r in warps}
    has_maps = any(x and any(name in x for name in layers) for x in (a, b))
    path = []
    for t in np.linspace(0.0, 1.0, int(frames)):
        frame = {}
        for name in layers if has_maps else ():
            na = maps(a, name)
            nb = maps(b, name).to(na.device)
            frame[name] = na if t == 0 else nb if t == 1 else ((1 - t) * na + t * nb) / float(np.hypot(1 - t, t))
        for r in warps:
            wa, wb = ((x[warp_key(r)][:1] if x and warp_key(r) in x else torch.zeros_like(shapes[r])).to(shapes[r])
                      for x in (a, b))
            frame[warp_key(r)] = (1 - float(t)) * wa + float(t) * wb
        path.append(frame)
    return path


def crossfade(img_a: Image.Image, img_b: Image.Image, frames: int) -> list[Image.Image]:
    """Naive pixel-space blend from ``img_a`` to ``img_b``: the baseline row to compare against."""
    check_range("Frames", frames, 2, 240, integer=True)
    a = np.asarray(imaging.load_image(img_a), dtype=np.float32)
    b = np.asarray(imaging.load_image(img_b), dtype=np.float32)
    if a.shape != b.shape:
        raise LatentStudioError(f"Cannot crossfade images of different sizes {img_a.size} and {img_b.size}.")
    return [Image.fromarray(np.round(a * (1 - t) + b * t).astype(np.uint8))
            for t in np.linspace(0.0, 1.0, int(frames))]


def smoothness(frames: list[Image.Image]) -> dict[str, float]:
    """Mean and variance of the step between consecutive frames (mean |Δpixel|, [0, 1] units).

    A smooth path has small, even steps: a low variance means no sudden jumps. The distance is
    pixel L1 for now; a perceptual distance could replace it later without changing the keys.
    """
    if len(frames) < 2:
        raise LatentStudioError("Smoothness needs at least two frames.")
    arrs = [np.asarray(imaging.load_image(f), dtype=np.float32) / 255.0 for f in frames]
    steps = np.array([np.abs(y - x).mean() for x, y in zip(arrs[:-1], arrs[1:])], dtype=np.float64)
    return {"step_mean": float(steps.mean()), "step_var": float(steps.var())}


@torch.no_grad()
def convert_space(engine: GanModel, latent: torch.Tensor, src: str, dst: str) -> torch.Tensor:
    """Move a latent batch between spaces where that is exact (z → w/w+, w → w+); refuse the rest."""
    if src == dst:
        return latent
    if dst == "z":
        raise LatentStudioError(f"A {src} latent cannot be turned back into z (the mapping network is not "
                                f"invertible); interpolate in {src} instead.")
    if src == "w+" and dst == "w":
        raise LatentStudioError("A w+ latent (one w per layer) cannot become a single w without loss; "
                                "interpolate in w+ instead.")
    if src == "z":
        ws = engine.G.mapping(latent)  # [N, num_ws, w_dim]: the same w repeated per layer
        return ws[:, 0] if dst == "w" else ws
    if src == "w" and dst == "w+":
        return latent.unsqueeze(1).repeat([1, engine.G.num_ws, 1])
    raise LatentStudioError(f"Cannot convert a {src} latent to {dst}.")


def _kind(src: Any) -> str:
    """'image' or 'latent' for one endpoint, from its type or file suffix."""
    if isinstance(src, Image.Image):
        return "image"
    if is_latent_source(src):
        return "latent"
    if isinstance(src, (str, Path)) and Path(src).suffix.lower() in IMAGE_SUFFIXES:
        return "image"
    raise LatentStudioError(f"Cannot tell whether {src!r} is an image or a latent: pass an image "
                            f"({', '.join(IMAGE_SUFFIXES)}) or a latent .npz file.")


def _describe(src: Any) -> str:
    if isinstance(src, (str, Path)):
        return str(src)
    if isinstance(src, Image.Image):
        return f"<PIL image {src.size[0]}x{src.size[1]}>"
    return "<latent record>"


def _part(progress: Optional[ProgressCallback], index: int, parts: int) -> Optional[ProgressCallback]:
    """``progress`` for part ``index`` of ``parts`` equal runs: steps counted on over the parts."""
    if progress is None or parts == 1:
        return progress
    return lambda step, total, preview: progress(index * total + step, parts * total, preview)


def _endpoint(engine: GanView, src: Any, space: str, invert_options: dict, progress: Optional[ProgressCallback],
              timer: Timer, inversions: list) -> tuple[torch.Tensor, Optional[dict[str, torch.Tensor]]]:
    """One endpoint as a single latent (no batch dim) in ``space`` and its noise maps (None: the model's own);
    images are inverted first."""
    if _kind(src) == "image":
        with timer("invert"):
            inv = engine.invert([imaging.load_image(src)], space=space, progress=progress, **invert_options)
        inversions.append(inv.metrics)
        src = inv.latents
    latent, src_space, noise = engine.read_latent(src)
    noise = {k: v[:1] for k, v in noise.items()} if noise else None
    return convert_space(engine, latent[:1], src_space, space)[0], noise


def interpolate(engine: GanView, a: Any, b: Any, *, space: str = "w+", frames: int = 16, crossfade_row: bool = True,
                invert_options: Optional[dict] = None, progress: Optional[ProgressCallback] = None) -> Result:
    """Render the latent path from ``a`` to ``b`` (images or latents) with ``engine``.

    Result: ``images`` the interpolation frames, ``frames`` the pixel crossfade between the two
    endpoint renders (or [] without ``crossfade_row``), ``latents`` the whole path as a record,
    ``metrics`` the frame count, space and smoothness of both rows.
    """
    check_range("Frames", frames, 2, 240, integer=True)
    frames = int(frames)
    if space not in SPACES:
        raise LatentStudioError(f"Unknown latent space {space!r}: use one of {', '.join(SPACES)}.")
    if space not in engine.spaces:
        raise LatentStudioError(f"{engine.arch} has no {space!r} space; it supports {', '.join(engine.spaces)}.")
    invert_options = {k: v for k, v in (invert_options or {}).items() if k not in ("space", "progress")}
    timer, inversions = Timer(), []
    with timer("total"):
        # two images: one progress run over both inversions (A's steps, then B's), not two runs from step 1
        both = _kind(a) == "image" and _kind(b) == "image"
        la, na = _endpoint(engine, a, space, invert_options, _part(progress, 0, 2 if both else 1), timer, inversions)
        lb, nb = _endpoint(engine, b, space, invert_options, _part(progress, 1 if both else 0, 2 if both else 1),
                           timer, inversions)
        path = latent_path(la, lb, space, frames)
        noises = noise_path(na, nb, engine.G, frames)
        images: list[Image.Image] = []
        with timer("render"):
            for i in range(frames):  # one at a time: previews, cancellation, and bitwise-equal endpoints
                if noises is None:
                    images += engine.synthesize(path[i:i + 1], space)
                else:
                    images += engine.synthesize(path[i:i + 1], space, noises[i])
                report(progress, i + 1, frames, images[-1])
        fade: list[Image.Image] = []
        if crossfade_row:
            with timer("crossfade"):
                fade = crossfade(images[0], images[-1], frames)
    metrics = {"frames": frames, "space": space, "method": "slerp" if space == "z" else "lerp",
               "smoothness": smoothness(images), "crossfade_smoothness": smoothness(fade) if fade else None}
    if inversions:
        metrics["inversion"] = inversions
    options = {"a": _describe(a), "b": _describe(b), "space": space, "frames": frames,
               "crossfade_row": crossfade_row, "invert_options": invert_options, "arch": engine.arch,
               "fingerprint": engine.fingerprint,
               "note": "the endpoints are latents[0] and latents[-1]; re-run from them to skip inversion"}
    path_noise = {k: torch.cat([f[k].to(path.device) for f in noises]) for k in noises[0]} if noises else None
    return Result(images=images, frames=fade, latents=engine.latent_record(path, space, path_noise), metrics=metrics,
                  timings=timer.timings, options=options)
