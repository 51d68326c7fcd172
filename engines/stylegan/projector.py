"""Projection: find the latent whose image matches a target, everywhere or only under a mask.

One optimisation loop serves photo inversion (full image, z / w / w+) and scribble-to-image
(masked pixels + a pull toward the mean latent). Loss per image =
``l1·L1 + l2·L2 + perceptual_weight·P + reg·mean((latent − anchor)²) [+ noise_reg·N]`` where the
pixel and perceptual terms count masked pixels only. The pixel terms compare the images after masked average
pooling to a resolution set by ``follow_lines`` (0: the 16×16 colour layout, what a drawing means; 1: every pixel,
what a photo means), reached coarse-to-fine from 8×8 over the first ``coarse_to_fine`` share of the steps; each image in a batch has its own loss, so
batch inversion with Adam gives the same per-image results as separate runs would, and keeps each image's own best (an
image whose loss turns non-finite stops there, the others go on). L-BFGS shares one line search and history across
the batch, so its batches are not separate runs; the CLI inverts one image at a time with it.
Adam follows the StyleGAN2 projector's learning-rate ramp-up / cosine ramp-down; L-BFGS uses a
strong-Wolfe line search, one iteration per step.

This is the algorithm only: `project(G, target, mask, …)` on tensors, like NVIDIA's ``project(G,
target, …)``. Turning photos and sketches into targets and masks, and the result into a `Result`
with metrics, is the engine's job (`inversion.project`, behind `GanEngine.invert` / ``scribble`` / ``project``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..base import Cancelled, LatentStudioError, make_generator
from ..evaluation.faithfulness import LAYOUT_RESOLUTION, masked_pixel_losses, pooled_pixel_losses
from .adam import Adam
from .losses import make_perceptual
from .options import ProjectionConfig


#: ``(step, loss)`` after every optimisation step (restarts count on), for live loss curves.
LossCallback = Callable[[int, float], None]
LBFGS_LINE_SEARCH_EVALS = 20   # most steps use 1-3; a cap keeps one step from running away
COARSEST_RESOLUTION = 8        # where a coarse-to-fine comparison starts


def restart_seed(seed: int, restart: int) -> int:
    """The seed of restart ``restart`` of a run seeded ``seed``: the seed itself first, then seeds no other run's
    restarts share (``seed + r`` would give runs seeded 0 and 1 the same restarts, and the same best)."""
    return int(seed) if restart == 0 else (int(seed) * 1_000_003 + restart * 7_919) % 2**62


def adam_lr(step: int, total: int, base: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """The StyleGAN2 projector schedule: short linear warm-up, cosine decay over the last quarter."""
    t = step / max(total, 1)
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / rampup) if rampup > 0 else base * ramp


def comparison_level(follow_lines: float, resolution: int) -> float:
    """log2 of the resolution the pixel terms compare at: 16 (the layout) at ``follow_lines`` 0, the image's own at
    1, geometric in between (a model whose side is not a power of two always compares every pixel)."""
    top = math.log2(resolution)
    if not top.is_integer():
        return top
    low = math.log2(min(LAYOUT_RESOLUTION, resolution))
    return low + float(follow_lines) * (top - low)


def level_at(step: int, steps: int, final: float, coarse_to_fine: float) -> float:
    """The comparison level at ``step``: from 8×8 up to ``final`` over the first ``coarse_to_fine`` of the steps."""
    start = min(math.log2(COARSEST_RESOLUTION), final)
    end = round(coarse_to_fine * (steps - 1))
    if end <= 0 or step >= end or final <= start:
        return final
    return start + (final - start) * step / end


def pixel_losses_at(img: torch.Tensor, target: torch.Tensor, mask: Optional[torch.Tensor], level: float
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image (L1, L2) [N] at comparison level ``level`` (log2 resolution): every pixel at the image's own level,
    else masked average pooling, blended linearly between the two nearest powers of two."""
    top = math.log2(img.shape[-1])
    if level >= top - 1e-6 or not top.is_integer():
        return masked_pixel_losses(img, target, mask)
    low = math.floor(level + 1e-6)
    frac = level - low
    l1, l2 = pooled_pixel_losses(img, target, mask, 2 ** low)
    if frac > 1e-6:
        h1, h2 = pooled_pixel_losses(img, target, mask, 2 ** (low + 1))  # at the image's own side: every pixel
        l1, l2 = (1 - frac) * l1 + frac * h1, (1 - frac) * l2 + frac * h2
    return l1, l2


def noise_regularisation(noises: list[torch.Tensor]) -> torch.Tensor:
    """StyleGAN2's multi-scale autocorrelation penalty: keeps optimised noise maps noise-like."""
    total = 0
    for n in noises:
        while True:
            total = total + (n * torch.roll(n, 1, dims=3)).mean(dim=[1, 2, 3]).square()
            total = total + (n * torch.roll(n, 1, dims=2)).mean(dim=[1, 2, 3]).square()
            if n.shape[2] <= 8:
                break
            n = F.avg_pool2d(n, 2)
    return total


@dataclass
class Candidate:
    """One restart's result: per image its best latent, noise maps, loss [N] and image [N, C, R, R]."""
    latent: torch.Tensor
    noise: dict[str, torch.Tensor]
    loss: torch.Tensor
    images: Optional[torch.Tensor] = None


def pick(candidates: list[Candidate], scores: Optional[torch.Tensor] = None, loss_tolerance: float = 0.25) -> Candidate:
    """Per image, the restart with the lowest loss; with ``scores`` [R, N] (higher = better, e.g. realism), the
    best-scoring restart among those within ``loss_tolerance`` (relative) of the lowest loss."""
    losses = torch.stack([c.loss for c in candidates])                       # [R, N]
    if scores is None:
        choice = losses.argmin(dim=0)
    else:
        ok = losses <= losses.min(dim=0).values * (1 + loss_tolerance) + 1e-12
        choice = torch.where(ok, scores.to(losses), torch.full_like(losses, -float("inf"))).argmax(dim=0)
    idx = torch.arange(losses.shape[1], device=losses.device)

    def gather(ts: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(ts)[choice, idx]
    noise = {k: gather([c.noise[k] for c in candidates]) for k in candidates[0].noise}
    images = gather([c.images for c in candidates]) if all(c.images is not None for c in candidates) else None
    return Candidate(gather([c.latent for c in candidates]), noise, losses[choice, idx], images)


@dataclass
class Projection:
    """What `project` found: per image the best latent (and noise maps), its image and loss; the curves.

    Shapes: ``latent`` [N, z_dim] (z), [N, w_dim] (w) or [N, num_ws, w_dim] (w+); ``images`` [N, C, R, R]
    in [-1, 1]; ``loss`` [N]; ``frames`` previews [1, C, R, R] of the first image as the run went.
    """
    latent: torch.Tensor
    noise: dict[str, torch.Tensor]
    images: torch.Tensor
    loss: torch.Tensor
    curves: list[list[float]]
    frames: list[torch.Tensor]
    stopped_nonfinite: list[dict[str, int]]
    seconds: float
    steps_run: int
    candidates: list["Candidate"] = field(default_factory=list)  # each restart's best, per image
    perceptual: Optional[nn.Module] = None  # the perceptual loss the run used (None: none), to measure results with

    @property
    def best_curve(self) -> list[float]:
        return self.curves[int(np.argmin([c[-1] if c else np.inf for c in self.curves]))]


#: ``(step, total, preview [1, C, R, R] or None)``: the tensor form of the engines' progress protocol.
TensorProgress = Callable[[int, int, Optional[torch.Tensor]], None]


def check_target(G: Any, target: torch.Tensor, mask: Optional[torch.Tensor]) -> None:
    res = G.img_resolution
    if target.ndim != 4 or tuple(target.shape[1:]) != (G.img_channels, res, res):
        raise LatentStudioError(f"Targets must be [N, {G.img_channels}, {res}, {res}], got {list(target.shape)}.")
    if mask is not None and (mask.ndim != 4 or mask.shape[1] != 1 or tuple(mask.shape[2:]) != (res, res)
                             or mask.shape[0] not in (1, target.shape[0])):
        raise LatentStudioError(f"The mask must be [1 or N, 1, {res}, {res}], got {list(mask.shape)}.")


class Projector:
    """One projection job over a generator; holds no state between jobs (safe to use one per thread).

    ``w_avg`` [w_dim] is the mean w (the "mean" start and the ``reg_to="mean"`` anchor in w / w+);
    ``perceptual`` is a built `losses.PerceptualLoss` (None: no perceptual term).
    """

    def __init__(self, G: Any, config: ProjectionConfig, *, w_avg: Optional[torch.Tensor] = None,
                 perceptual: Optional[nn.Module] = None) -> None:
        config = config.validate(tuple(G.spaces))
        if config.space != "z" and w_avg is None:
            raise ValueError("projection in w / w+ needs w_avg")
        self.cfg, self.G, self.w_avg, self.perceptual = config, G, w_avg, perceptual
        self.device = next(G.parameters()).device

    # -- latents ---------------------------------------------------------------------------------
    def _init_latent(self, n: int, seed: int, random: bool) -> torch.Tensor:
        G, space = self.G, self.cfg.space
        z = torch.randn([n, G.z_dim], generator=make_generator(seed)).to(self.device)
        if space == "z":
            if not random and G.arch == "dcgan":
                return torch.zeros_like(z)
            return z
        w = self.w_avg.expand(n, -1).clone() if not random else G.mapping(z)[:, 0]
        return w if space == "w" else w.unsqueeze(1).repeat(1, G.num_ws, 1)

    def _mean_anchor(self, like: torch.Tensor) -> torch.Tensor:
        if self.cfg.space == "z":
            return torch.zeros_like(like)
        w = self.w_avg
        return w.expand_as(like) if self.cfg.space == "w" else w.view(1, 1, -1).expand_as(like)

    # -- the loop --------------------------------------------------------------------------------
    def run(self, target: torch.Tensor, mask: Optional[torch.Tensor], seed: int,
            progress: Optional[TensorProgress] = None, on_loss: Optional[LossCallback] = None,
            start: Optional[torch.Tensor] = None) -> Projection:
        """``target`` [N, C, R, R] in [-1, 1]; ``mask`` [1 or N, 1, R, R] in [0, 1] or None (whole image);
        ``start`` [N, …] in the config's space: the first restart's start point (init "encoder" needs it)."""
        cfg, G = self.cfg, self.G
        check_target(G, target, mask)
        n = target.shape[0]
        if cfg.init == "encoder" and start is None:
            raise LatentStudioError("init 'encoder' needs a start latent from an encoder; this call gave none.")
        if start is not None:
            shape = [n] + ([G.num_ws] if cfg.space == "w+" else []) + [G.z_dim if cfg.space == "z" else G.w_dim]
            if list(start.shape) != shape:
                raise LatentStudioError(f"The start latent must be {shape} for space {cfg.space}, got {list(start.shape)}.")
        began = time.perf_counter()
        y_feats = None
        if self.perceptual is not None and mask is None:
            with torch.no_grad():
                y_feats = self.perceptual.features(target)
        candidates: list[Candidate] = []
        curves, frames, stopped = [], [], []
        total_steps = cfg.steps * cfg.restarts
        final_level = comparison_level(cfg.follow_lines, G.img_resolution)
        preview_every = max(1, total_steps // cfg.frames) if cfg.frames else 0
        done = 0
        for r in range(cfg.restarts):
            best_loss = torch.full([n], float("inf"), device=self.device)
            best_latent = None
            best_noise: dict[str, torch.Tensor] = {}
            if r == 0 and start is not None:
                latent = start.detach().to(self.device, torch.float32).clone().requires_grad_(True)
            else:
                latent = self._init_latent(n, restart_seed(seed, r), random=(cfg.init == "random" or r > 0)).requires_grad_(True)
            anchor = latent.detach().clone() if cfg.reg_to == "init" else self._mean_anchor(latent)
            noise = self._init_noise(n, restart_seed(seed, r), const=(r == 0)) if cfg.optimize_noise else {}
            params = [latent] + list(noise.values())
            lr = cfg.lr if cfg.lr is not None else (0.1 if cfg.optimizer == "adam" else 1.0)
            if cfg.optimizer == "adam":
                opt = Adam(params, lr=lr, betas=(0.9, 0.999))
            else:
                # max_eval must be given: its default (max_iter * 5 // 4 = 1) leaves the line search no
                # evaluation, so a first trial step that raises the loss is dropped and L-BFGS stalls for good
                opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, max_eval=1 + LBFGS_LINE_SEARCH_EVALS,
                                        history_size=10, line_search_fn="strong_wolfe")
            curve: list[float] = []
            # alive: the images still optimised. Under Adam (elementwise) an image whose loss turns non-finite stops
            # there, as it would alone, and the others go on; L-BFGS's line search is shared by the batch, so it stops
            # all (the CLI inverts one image at a time with L-BFGS)
            state = {"finite": True, "level": final_level, "alive": torch.ones(n, dtype=torch.bool, device=self.device),
                     "died": []}

            def closure() -> torch.Tensor:
                opt.zero_grad()
                img = G.synthesize(latent, cfg.space, noise=noise or None)
                per_image = self.loss(img, target, mask, y_feats, latent, anchor, list(noise.values()), state["level"])
                with torch.no_grad():
                    finite = torch.isfinite(per_image)
                    if cfg.optimizer == "adam":
                        died = state["alive"] & ~finite
                        if died.any():
                            state["died"] = died.nonzero().flatten().tolist()
                            state["alive"] = state["alive"] & finite
                        ok = finite & state["alive"]
                        if not state["alive"].any():
                            state["finite"] = False
                    else:
                        ok = finite
                        if not ok.all():
                            state["finite"] = False
                    # the best is kept only once the comparison is final (coarse levels' losses are not comparable)
                    better = ok & (per_image < best_loss) & (state["level"] >= final_level)
                    if better.any():
                        nonlocal best_latent
                        if best_latent is None:
                            best_latent = latent.detach().clone()
                        best_latent[better] = latent.detach()[better]
                        for k, v in noise.items():
                            best_noise.setdefault(k, v.detach().clone())[better] = v.detach()[better]
                        best_loss[better] = per_image[better]
                    state["img"] = img.detach()
                total = per_image[state["alive"]].sum() if cfg.optimizer == "adam" else per_image.sum()
                if torch.isfinite(total):
                    total.backward()
                    if cfg.optimizer == "adam" and not state["alive"].all():
                        for p in params:  # a stopped image's gradient may be NaN (0 · ∞ through its graph): none
                            if p.grad is not None:
                                p.grad[~state["alive"]] = 0
                return total

            for step in range(cfg.steps):
                state["level"] = level_at(step, cfg.steps, final_level, cfg.coarse_to_fine)
                if cfg.optimizer == "adam":
                    opt.lr = adam_lr(step, cfg.steps, lr)
                    loss = closure()
                    if state["finite"]:
                        opt.step()
                else:
                    try:
                        loss = opt.step(closure)
                    except (IndexError, RuntimeError, ValueError):
                        # torch's strong-Wolfe search cannot handle a NaN trial point and may crash on it;
                        # that is the non-finite stop below (keep the best so far), anything else re-raises
                        if state["finite"]:
                            raise
                if state["died"]:
                    stopped.append({"restart": r, "step": step, "images": state["died"]})
                    state["died"] = []
                if not state["finite"]:
                    if cfg.optimizer != "adam":
                        stopped.append({"restart": r, "step": step, "images": list(range(n))})
                    break
                if noise:
                    with torch.no_grad():
                        for v in noise.values():
                            v.sub_(v.mean(dim=[1, 2, 3], keepdim=True)).div_(v.std(dim=[1, 2, 3], keepdim=True) + 1e-8)
                curve.append(float(loss.detach()) / n)
                done = r * cfg.steps + step + 1
                preview = None
                if preview_every and (done % preview_every == 0 or done == total_steps):
                    preview = state["img"][:1].clone()
                    frames.append(preview)
                try:
                    if on_loss is not None:
                        on_loss(done, curve[-1])
                    if progress is not None:
                        progress(done, total_steps, preview)
                except Cancelled as exc:  # stopped: hand the best latent so far to the caller
                    kept = best_latent if best_latent is not None else latent.detach()
                    kept_noise = (best_noise if best_latent is not None else {k: v.detach() for k, v in noise.items()})
                    exc.partial.update(latent=kept.clone(), space=cfg.space, step=done, total=total_steps,
                                       noise={k: v.clone() for k, v in kept_noise.items()} or None)
                    raise
            curves.append(curve)
            if best_latent is not None:
                candidates.append(Candidate(best_latent, best_noise, best_loss))
        if not candidates:
            raise LatentStudioError("The optimisation produced no finite loss; lower the learning rate or loss weights.")
        with torch.no_grad():
            for c in candidates:
                c.images = G.synthesize(c.latent, cfg.space, noise=c.noise or None)
        best = pick(candidates)
        return Projection(latent=best.latent, noise=best.noise, images=best.images, loss=best.loss, curves=curves,
                          frames=frames, stopped_nonfinite=stopped, seconds=time.perf_counter() - began,
                          steps_run=sum(len(c) for c in curves), candidates=candidates,  # a NaN stop ran fewer
                          perceptual=self.perceptual)

    def _init_noise(self, n: int, seed: int, const: bool = True) -> dict[str, torch.Tensor]:
        """Per image a map per noise layer [n, 1, r, r]: the model's own constant maps (so the start renders
        exactly what the start latent renders), or fresh random maps (later restarts)."""
        if self.G.arch != "stylegan2":
            raise LatentStudioError("Noise optimisation needs a StyleGAN2 model.")
        gen = make_generator(seed + 10_000)
        maps = {}
        for name, layer in self.G.synthesis.noise_layers().items():
            r = layer.resolution
            start = (layer.noise_const.detach().float().cpu().expand(n, 1, r, r) if const
                     else torch.randn([n, 1, r, r], generator=gen))
            maps[name] = start.clone().to(self.device).requires_grad_(True)
        return maps

    def loss(self, img, target, mask, y_feats, latent, anchor, noises, level: Optional[float] = None) -> torch.Tensor:
        """Per-image loss [N] (see the module doc); ``level``: the pixel terms' comparison level (log2 resolution;
        None: the config's final one)."""
        cfg = self.cfg
        if level is None:
            level = comparison_level(cfg.follow_lines, img.shape[-1])
        l1, l2 = pixel_losses_at(img, target, mask, level)
        loss = cfg.l1 * l1 + cfg.l2 * l2
        if self.perceptual is not None:
            loss = loss + cfg.perceptual_weight * self.perceptual(img, target, mask, y_feats)
        if cfg.reg > 0:
            loss = loss + cfg.reg * (latent - anchor).square().flatten(1).mean(dim=1)
        if noises and cfg.noise_reg > 0:
            loss = loss + cfg.noise_reg * noise_regularisation(noises)
        return loss


def project(G: Any, target: torch.Tensor, mask: Optional[torch.Tensor] = None, *,
            config: Optional[ProjectionConfig] = None, seed: int = 0, w_avg: Optional[torch.Tensor] = None,
            D: Optional[nn.Module] = None, progress: Optional[TensorProgress] = None,
            on_loss: Optional[LossCallback] = None, start: Optional[torch.Tensor] = None) -> Projection:
    """Find the latent whose image matches ``target`` [N, C, R, R] (under ``mask`` [1|N, 1, R, R] if given).

    ``config`` holds every knob (default: w+ from the mean, Adam, 300 steps, L2 + 0.1 · D-feature
    perceptual); ``w_avg`` [w_dim] is needed for w / w+; ``D`` supplies the "disc" perceptual features;
    ``start`` [N, …] is the first restart's start latent (e.g. an encoder's output, with init "encoder").
    """
    config = config or ProjectionConfig()
    perceptual = None
    if config.perceptual != "none" and config.perceptual_weight > 0:
        perceptual = make_perceptual(config.perceptual, D).to(next(G.parameters()).device)
    return Projector(G, config, w_avg=w_avg, perceptual=perceptual).run(target, mask, seed, progress, on_loss, start)
