"""Drag to edit: DragGAN-style point editing (Pan et al., SIGGRAPH 2023) on StyleGAN2, on tensors.

Handle points p_i move toward target points t_i while the generator keeps the image on its manifold. With F the
synthesis features of the block at `feature_resolution` (DragGAN uses the 6th block's), bilinearly upsampled to
the image size, each step does:

1. **Motion supervision.** d_i = (t_i − p_i) / ‖t_i − p_i‖, Ω1(p_i, r1) the pixel offsets within r1 of p_i, and M
   the optional mask (1 = may change):
   ``L = Σ_i mean_{q ∈ Ω1(p_i, r1)} mean_c |F(q + d_i) − sg(F(q))| + λ · mean(|F − F₀| · (1 − M))``
   (sg: no gradient; F(q) read by bilinear sampling), minimised by Adam over the first ``rows`` rows of w+ only.
2. **Point tracking.** p_i ← argmin over the pixels q of the square Ω2(p_i, r2) of Σ_c |F(q) − f_i|, where f_i is
   the start image's feature at the first handle position.

By default (``feature_edit="local"``, `drag_features`) a third thing moves with the w+ rows: one Gaussian bump of
displacement per handle warps the 32 px block's output, started at the whole move (the content at h_i lands on t_i
at once) and refined by the same loss; the later blocks re-render the moved content, so an ear or an eye moves as a
whole while everything ~3σ away stays put. The warp travels with the saved latent (``noise.warp<r>``). With
``feature_edit="none"`` it is the paper's algorithm alone, which on our 64 px models moves far less (docs/benchmarks.md).

It stops when every handle is within ``stop_distance`` of its target. Points are (x, y) in image pixels
(pixel centres at integer coordinates). `drag(G, latent, handles, targets, mask, …)` is the algorithm only;
turning images and clicks into tensors and the result into a `Result` is the engine's job (`GanEngine.drag`).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F

from ..base import Cancelled, LatentStudioError
from .options import DragConfig  # noqa: F401 (its old home)
from .adam import Adam
from .drag_features import FeatureEdit, warp_key

#: ``(step, total, preview [1, C, R, R] or None)``.
TensorProgress = Callable[[int, int, Optional[torch.Tensor]], None]


def feature_resolution(G: Any) -> int:
    """The synthesis block whose features drive the drag: DragGAN's 6th block (128 px) on 512–1024 px models, a
    quarter of the image size on 256 px ones, and never below 32 px nor above half the image size: on our 64 px models the 16 px
    block's features were too smooth to tell a handle from its neighbours, so the tracker reported arrival after the
    content had moved a fifth of the way (`bench.drag`: 21 % by patch matching at 16 px, 44 % at 32 px)."""
    return min(G.img_resolution // 2, max(32, min(128, G.img_resolution // 4)))


def features(G: Any, ws: torch.Tensor, noise: Optional[dict] = None,
             edit: Optional[FeatureEdit] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(image [N, C, R, R], features [N, K, R, R]: the `feature_resolution` block's, bilinearly upsampled to R)."""
    img, feat = G.synthesis(ws, noise=noise, features_at=feature_resolution(G),
                            feature_edits=edit.edits() if edit is not None else None)
    return img, F.interpolate(feat, size=img.shape[-2:], mode="bilinear", align_corners=False)


def sample(feat: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Bilinear reads of ``feat`` [1, K, R, R] at ``points`` [P, 2] (x, y in pixels) → [P, K]."""
    r = feat.shape[-1]
    grid = ((2 * points + 1) / r - 1).view(1, 1, -1, 2).to(feat)
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode="border", align_corners=False)[0, :, 0].t()


def disc_offsets(radius: float) -> torch.Tensor:
    """Integer offsets (dx, dy) with dx² + dy² ≤ radius² → [Q, 2]."""
    r = int(math.floor(radius))
    ys, xs = torch.meshgrid(torch.arange(-r, r + 1), torch.arange(-r, r + 1), indexing="ij")
    keep = xs.square() + ys.square() <= radius ** 2
    return torch.stack([xs[keep], ys[keep]], dim=1).float()


def motion_loss(feat: torch.Tensor, handles: torch.Tensor, targets: torch.Tensor, r1: float,
                mask: Optional[torch.Tensor] = None, feat0: Optional[torch.Tensor] = None,
                mask_weight: float = 0.0) -> torch.Tensor:
    """DragGAN's motion-supervision loss (module doc, step 1) for ``feat`` [1, K, R, R], points [P, 2] (x, y)."""
    offsets = disc_offsets(r1).to(feat.device)
    loss = feat.new_zeros(())
    for p, t in zip(handles, targets):
        direction = t - p
        norm = direction.norm()
        if float(norm) < 1e-6:
            continue
        q = p[None] + offsets
        loss = loss + (sample(feat, q + direction / norm) - sample(feat, q).detach()).abs().mean()
    if mask is not None and feat0 is not None and mask_weight > 0:
        loss = loss + mask_weight * ((feat - feat0).abs() * (1 - mask)).mean()
    return loss


@torch.no_grad()
def track(feat: torch.Tensor, handles: torch.Tensor, reference: torch.Tensor, r2: int) -> torch.Tensor:
    """DragGAN's point tracking (module doc, step 2): each handle moves to the pixel of its (2·r2+1)² square whose
    features are nearest (L1) to its ``reference`` [P, K] → new handles [P, 2]."""
    r = feat.shape[-1]
    out = []
    for p, f in zip(handles, reference):
        x0, y0 = int(round(float(p[0]))), int(round(float(p[1])))
        xs = torch.arange(max(0, x0 - r2), min(r, x0 + r2 + 1), device=feat.device)
        ys = torch.arange(max(0, y0 - r2), min(r, y0 + r2 + 1), device=feat.device)
        patch = feat[0][:, ys][:, :, xs]                                   # [K, h, w]
        dist = (patch - f[:, None, None]).abs().sum(0)                      # [h, w]
        i = int(dist.flatten().argmin())
        out.append(torch.stack([xs[i % len(xs)], ys[i // len(xs)]]).float())
    return torch.stack(out)


@dataclass
class Drag:
    """What `drag` did: the final w+ latent [1, num_ws, w_dim] and image [1, C, R, R], the handle positions after
    every step (``path`` [steps + 1][P][2]), whether every handle arrived, the steps run, previews, seconds."""
    latent: torch.Tensor
    image: torch.Tensor
    path: list[list[list[float]]]
    arrived: bool
    steps_run: int
    frames: list[torch.Tensor] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    edit: Optional[dict] = None  # the feature edit's `FeatureEdit.state` (config.feature_edit); None: w+ alone


def check_points(points: Any, resolution: int, what: str) -> torch.Tensor:
    """Points as a float tensor [P, 2] (x, y), each inside the image; a clear error otherwise."""
    t = torch.as_tensor(points, dtype=torch.float32)
    if t.ndim != 2 or t.shape[1] != 2 or len(t) == 0:
        raise LatentStudioError(f"{what} must be a list of (x, y) points, got shape {list(t.shape)}.")
    if bool((t < 0).any() or (t > resolution - 1).any()):
        raise LatentStudioError(f"{what} must lie inside the {resolution}×{resolution} image (0 to {resolution - 1}), "
                                f"got {t.tolist()}.")
    return t


def drag(G: Any, latent: torch.Tensor, handles: Any, targets: Any, mask: Optional[torch.Tensor] = None, *,
         config: Optional[DragConfig] = None, noise: Optional[dict] = None,
         progress: Optional[TensorProgress] = None) -> Drag:
    """Move ``handles`` [P, 2] toward ``targets`` [P, 2] ((x, y) pixels) in the image of ``latent`` [1, num_ws, w_dim]
    (w+), keeping ``noise`` (the latent's noise maps, if any) fixed; ``mask`` [1, 1, R, R] (1 = may change) keeps the
    rest close to the start. Cancelled (from ``progress``) hands the latest latent over in ``partial``."""
    cfg = (config or DragConfig()).check()
    if getattr(G, "arch", "stylegan2") != "stylegan2":
        raise LatentStudioError("Dragging needs a StyleGAN2 model (its synthesis features and w+ rows).")
    res = G.img_resolution
    p = check_points(handles, res, "Handles")
    t = check_points(targets, res, "Targets")
    if p.shape != t.shape:
        raise LatentStudioError(f"Every handle needs one target: {len(p)} handles, {len(t)} targets.")
    if latent.ndim != 3 or latent.shape[0] != 1 or latent.shape[1] != G.num_ws:
        raise LatentStudioError(f"Drag a single w+ latent [1, {G.num_ws}, {G.w_dim}], got {list(latent.shape)}.")
    device = next(G.parameters()).device
    p, t = p.to(device), t.to(device)
    r1, r2 = cfg.radii(res)
    rows = min(cfg.rows if cfg.rows is not None else math.ceil(G.num_ws / 3), G.num_ws)
    if rows == 0 and cfg.feature_edit == "none":
        raise LatentStudioError("Nothing to optimise: rows 0 needs a feature edit (local, warp or offset).")
    ws = latent.detach().to(device, torch.float32)
    moving = ws[:, :rows].clone().requires_grad_(True)
    fixed = ws[:, rows:]
    m = mask.to(device, torch.float32) if mask is not None else None
    edit = None
    opts = [Adam([moving], lr=cfg.lr)] if rows else []
    if cfg.feature_edit != "none":
        fres = min(cfg.feature_res, res)  # the default block (32) on a smaller model: its last block
        if fres not in G.synthesis.block_resolutions:
            raise LatentStudioError(f"feature_res must be one of {G.synthesis.block_resolutions}, got {cfg.feature_res}.")
        channels = getattr(G.synthesis, f"b{fres}").conv1.weight.shape[0]
        edit = FeatureEdit(cfg.feature_edit, fres, channels, res, cfg.feature_sigma, device, m, centers=p)
        if cfg.feature_edit == "local":  # each bump starts at the whole move (out(t) = in(h)); the loop refines it
            with torch.no_grad():
                edit.param.copy_(t - p)
        opts.append(Adam([edit.param], lr=cfg.feature_lr))
    began = time.perf_counter()
    with torch.no_grad():
        img0, feat0 = features(G, ws, noise)
    if edit is not None and edit.kind in ("warp", "local") and warp_key(fres) in (noise or {}):
        # a dragged latent's warp of this block: the new warp is composed with it (one resampling, as it is saved)
        edit.base = noise[warp_key(fres)][:1].to(device, torch.float32)
        noise = {k: v for k, v in noise.items() if k != warp_key(fres)}
    reference = sample(feat0, p)                                             # f_i = F₀(p_i⁰)
    path, losses, frames = [p.tolist()], [], []
    every = max(1, cfg.steps // cfg.frames) if cfg.frames else 0
    img, step = img0, 0
    arrived = bool(((p - t).norm(dim=1) <= cfg.stop_distance).all())
    while not arrived and step < cfg.steps:
        with torch.enable_grad():
            img, feat = features(G, torch.cat([moving, fixed], dim=1), noise, edit)
            loss = motion_loss(feat, p, t, r1, m, feat0, cfg.mask_weight)
            if edit is not None and cfg.feature_reg > 0:
                loss = loss + cfg.feature_reg * edit.penalty()
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
        step += 1
        with torch.no_grad():
            img, feat = features(G, torch.cat([moving, fixed], dim=1), noise, edit)
        p = track(feat, p, reference, r2)
        path.append(p.tolist())
        losses.append(float(loss.detach()))
        arrived = bool(((p - t).norm(dim=1) <= cfg.stop_distance).all())
        preview = img.detach()[:1].clone() if every and (step % every == 0 or arrived) else None
        if preview is not None:
            frames.append(preview)
        if progress is not None:
            try:
                progress(step, cfg.steps, preview)
            except Cancelled as exc:  # stopped: hand the latest latent over
                exc.partial.update(latent=torch.cat([moving, fixed], dim=1).detach().clone(), space="w+", step=step,
                                   total=cfg.steps, handles=p.tolist())
                raise
    final = torch.cat([moving, fixed], dim=1).detach()
    return Drag(latent=final, image=img.detach(), path=path, arrived=arrived, steps_run=step, frames=frames,
                losses=losses, seconds=time.perf_counter() - began,
                edit=edit.state() if edit is not None else None)
