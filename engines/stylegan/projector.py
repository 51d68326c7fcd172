"""Projection: find the latent whose image matches a target, everywhere or only under a mask.

One optimisation loop serves photo inversion (full image, z / w / w+) and scribble-to-image
(masked pixels + a pull toward the mean latent). Loss per image =
``l1·L1 + l2·L2 + perceptual_weight·P + reg·mean((latent − anchor)²) [+ noise_reg·N]`` where the
pixel and perceptual terms count masked pixels only; each image in a batch has its own loss, so
batch inversion gives the same per-image results as separate runs would, and keeps each image's own best.
Adam follows the StyleGAN2 projector's learning-rate ramp-up / cosine ramp-down; L-BFGS uses a
strong-Wolfe line search, one iteration per step.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .. import imaging
from ..base import LatentStudioError, ProgressCallback, Result, check_range, make_generator, report
from .losses import PERCEPTUAL_CHOICES, make_perceptual, masked_pixel_losses

if TYPE_CHECKING:
    from .engine import GanEngine

OPTIMIZERS = ("adam", "lbfgs")

#: ``(step, loss)`` after every optimisation step (restarts count on), for live loss curves.
LossCallback = Callable[[int, float], None]
INITS = ("mean", "random")
LBFGS_LINE_SEARCH_EVALS = 20   # most steps use 1-3; a cap keeps one step from running away


@dataclass
class ProjectionConfig:
    """Every knob of a projection; stored in `Result.options` so a run can be repeated."""
    space: str = "w+"
    optimizer: str = "adam"
    steps: int = 300
    lr: Optional[float] = None          # default: 0.1 (Adam) or 1.0 (L-BFGS)
    init: str = "mean"                  # mean (w_avg) or random (mapped random z); z-space "mean" is random
    l1: float = 0.0
    l2: float = 1.0
    perceptual: str = "disc"
    perceptual_weight: float = 0.1
    reg: float = 0.0
    reg_to: str = "init"                # "init" (the start point) or "mean" (w_avg / z = 0)
    optimize_noise: bool = False
    noise_reg: float = 1e5
    restarts: int = 1
    frames: int = 12                    # intermediate previews kept for progress and GIFs

    def validate(self, spaces: tuple[str, ...]) -> None:
        if self.space not in spaces:
            raise LatentStudioError(f"This model has no {self.space!r} space; it supports {', '.join(spaces)}.")
        if self.optimizer not in OPTIMIZERS:
            raise LatentStudioError(f"Unknown optimizer {self.optimizer!r}: choose {' or '.join(OPTIMIZERS)}.")
        if self.init not in INITS:
            raise LatentStudioError(f"Unknown init {self.init!r}: choose {' or '.join(INITS)}.")
        if self.perceptual not in PERCEPTUAL_CHOICES:
            raise LatentStudioError(f"Unknown perceptual network {self.perceptual!r}: choose from {', '.join(PERCEPTUAL_CHOICES)}.")
        if self.reg_to not in ("init", "mean"):
            raise LatentStudioError("reg_to must be 'init' or 'mean'.")
        check_range("Steps", self.steps, 1, 10_000, integer=True)
        check_range("Restarts", self.restarts, 1, 50, integer=True)
        check_range("Frames", self.frames, 0, 500, integer=True)
        for name in ("l1", "l2", "perceptual_weight", "reg", "noise_reg"):
            check_range(name, getattr(self, name), 0.0, 1e9)
        if self.lr is not None:
            check_range("Learning rate", self.lr, 1e-6, 100.0)
        if self.l1 == self.l2 == self.reg == 0 and (self.perceptual == "none" or self.perceptual_weight == 0):
            raise LatentStudioError("Every loss weight is 0: set at least one of l1, l2, perceptual_weight.")

    @classmethod
    def from_options(cls, **options: Any) -> "ProjectionConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise LatentStudioError(f"Unknown projection option(s) {unknown}; known: {sorted(names)}.")
        return cls(**options)


def adam_lr(step: int, total: int, base: float, rampdown: float = 0.25, rampup: float = 0.05) -> float:
    """The StyleGAN2 projector schedule: short linear warm-up, cosine decay over the last quarter."""
    t = step / max(total, 1)
    ramp = min(1.0, (1.0 - t) / rampdown)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return base * ramp * min(1.0, t / rampup) if rampup > 0 else base * ramp


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


class Projector:
    """Runs one projection job; holds no state between jobs (safe to use one per thread)."""

    def __init__(self, engine: "GanEngine", config: ProjectionConfig) -> None:
        config.validate(engine.spaces)
        self.engine, self.cfg, self.G = engine, config, engine.G
        self.device = engine.device
        self.perceptual = None
        if config.perceptual != "none" and config.perceptual_weight > 0:
            self.perceptual = make_perceptual(config.perceptual, engine.bundle.D).to(self.device)

    # -- latents ---------------------------------------------------------------------------------
    def _init_latent(self, n: int, seed: int, random: bool) -> torch.Tensor:
        G, space = self.G, self.cfg.space
        z = torch.randn([n, G.z_dim], generator=make_generator(seed)).to(self.device)
        if space == "z":
            if not random and G.arch == "dcgan":
                return torch.zeros_like(z)
            return z
        w = self.engine.mean_w().expand(n, -1).clone() if not random else G.mapping(z)[:, 0]
        return w if space == "w" else w.unsqueeze(1).repeat(1, G.num_ws, 1)

    def _mean_anchor(self, like: torch.Tensor) -> torch.Tensor:
        if self.cfg.space == "z":
            return torch.zeros_like(like)
        w = self.engine.mean_w()
        return w.expand_as(like) if self.cfg.space == "w" else w.view(1, 1, -1).expand_as(like)

    # -- the loop --------------------------------------------------------------------------------
    def run(self, target: torch.Tensor, mask: Optional[torch.Tensor], seed: int,
            progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None) -> Result:
        cfg, G = self.cfg, self.G
        n = target.shape[0]
        start = time.perf_counter()
        y_feats = None
        if self.perceptual is not None and mask is None:
            with torch.no_grad():
                y_feats = self.perceptual.features(target)
        best_loss = torch.full([n], float("inf"), device=self.device)
        best_latent = None
        best_noise: dict[str, torch.Tensor] = {}
        curves, frames, stopped = [], [], []
        total_steps = cfg.steps * cfg.restarts
        preview_every = max(1, total_steps // cfg.frames) if cfg.frames else 0
        for r in range(cfg.restarts):
            latent = self._init_latent(n, seed + r, random=(cfg.init == "random" or r > 0)).requires_grad_(True)
            anchor = latent.detach().clone() if cfg.reg_to == "init" else self._mean_anchor(latent)
            noise = self._init_noise(n, seed + r) if cfg.optimize_noise else {}
            params = [latent] + list(noise.values())
            lr = cfg.lr if cfg.lr is not None else (0.1 if cfg.optimizer == "adam" else 1.0)
            if cfg.optimizer == "adam":
                opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999))
            else:
                # max_eval must be given: its default (max_iter * 5 // 4 = 1) leaves the line search no
                # evaluation, so a first trial step that raises the loss is dropped and L-BFGS stalls for good
                opt = torch.optim.LBFGS(params, lr=lr, max_iter=1, max_eval=1 + LBFGS_LINE_SEARCH_EVALS,
                                        history_size=10, line_search_fn="strong_wolfe")
            curve: list[float] = []
            state = {"finite": True}

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                img = G.synthesize(latent, cfg.space, noise=noise or None)
                per_image = self._loss(img, target, mask, y_feats, latent, anchor, list(noise.values()))
                with torch.no_grad():
                    ok = torch.isfinite(per_image)
                    if not ok.all():
                        state["finite"] = False
                    better = ok & (per_image < best_loss)
                    if better.any():
                        nonlocal best_latent
                        if best_latent is None:
                            best_latent = latent.detach().clone()
                        best_latent[better] = latent.detach()[better]
                        for k, v in noise.items():
                            best_noise.setdefault(k, v.detach().clone())[better] = v.detach()[better]
                        best_loss[better] = per_image[better]
                    state["img"] = img.detach()
                total = per_image.sum()
                if torch.isfinite(total):
                    total.backward()
                return total

            for step in range(cfg.steps):
                if cfg.optimizer == "adam":
                    for group in opt.param_groups:
                        group["lr"] = adam_lr(step, cfg.steps, lr)
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
                if not state["finite"]:
                    stopped.append({"restart": r, "step": step})
                    break
                if noise:
                    with torch.no_grad():
                        for v in noise.values():
                            v.sub_(v.mean(dim=[1, 2, 3], keepdim=True)).div_(v.std(dim=[1, 2, 3], keepdim=True) + 1e-8)
                curve.append(float(loss.detach()) / n)
                done = r * cfg.steps + step + 1
                if on_loss is not None:
                    on_loss(done, curve[-1])
                preview = None
                if preview_every and (done % preview_every == 0 or done == total_steps):
                    preview = imaging.to_pil(state["img"][:1])[0]
                    frames.append(preview)
                report(progress, done, total_steps, preview)
            curves.append(curve)
        if best_latent is None:
            raise LatentStudioError("The optimisation produced no finite loss; lower the learning rate or loss weights.")
        with torch.no_grad():
            images = G.synthesize(best_latent, cfg.space, noise=best_noise or None)
        seconds = time.perf_counter() - start
        metrics = self._metrics(images, target, mask, best_latent)
        best_restart = int(np.argmin([c[-1] if c else np.inf for c in curves]))
        metrics.update(loss=best_loss.tolist(), loss_curve=curves[best_restart], loss_curves=curves,
                       perceptual_net=self.perceptual.name if self.perceptual is not None else "none",
                       steps=cfg.steps, restarts=cfg.restarts, stopped_nonfinite=stopped)
        return Result(images=imaging.to_pil(images), frames=frames,
                      latents=self.engine.latent_record(best_latent, cfg.space), metrics=metrics,
                      timings={"total": seconds, "per_step_ms": 1000 * seconds / max(1, total_steps)},
                      options={**asdict(self.cfg), "seed": seed, "masked": mask is not None})

    def _init_noise(self, n: int, seed: int) -> dict[str, torch.Tensor]:
        if self.G.arch != "stylegan2":
            raise LatentStudioError("Noise optimisation needs a StyleGAN2 model.")
        gen = make_generator(seed + 10_000)
        return {name: torch.randn([n, 1, layer.resolution, layer.resolution], generator=gen).to(self.device).requires_grad_(True)
                for name, layer in self.G.synthesis.noise_layers().items()}

    def _loss(self, img, target, mask, y_feats, latent, anchor, noises) -> torch.Tensor:
        cfg = self.cfg
        l1, l2 = masked_pixel_losses(img, target, mask)
        loss = cfg.l1 * l1 + cfg.l2 * l2
        if self.perceptual is not None:
            loss = loss + cfg.perceptual_weight * self.perceptual(img, target, mask, y_feats)
        if cfg.reg > 0:
            loss = loss + cfg.reg * (latent - anchor).square().flatten(1).mean(dim=1)
        if noises and cfg.noise_reg > 0:
            loss = loss + cfg.noise_reg * noise_regularisation(noises)
        return loss

    @torch.no_grad()
    def _metrics(self, images, target, mask, latent) -> dict[str, Any]:
        from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure
        x, y = (images + 1) / 2, (target + 1) / 2
        out: dict[str, Any] = {}
        if mask is None:
            out["psnr"] = peak_signal_noise_ratio(x.clamp(0, 1), y, data_range=1.0, reduction="none",
                                                  dim=[1, 2, 3]).tolist()
            out["ssim"] = structural_similarity_index_measure(x.clamp(0, 1), y, data_range=1.0,
                                                              reduction="none").tolist()
        _, l2 = masked_pixel_losses(x, y, mask)
        out["masked_l2" if mask is not None else "l2"] = l2.tolist()
        if self.perceptual is not None:
            out["perceptual"] = self.perceptual(images, target, mask).tolist()
        out["latent_distance"] = self._distance_from_mean(latent).tolist()
        return out

    def _distance_from_mean(self, latent: torch.Tensor) -> torch.Tensor:
        """RMS distance from the mean latent, relative to that of random samples (≈1 = typical)."""
        if self.cfg.space == "z":
            return latent.flatten(1).square().mean(dim=1).sqrt()
        w_avg = self.engine.mean_w()
        rows = latent if latent.ndim == 3 else latent.unsqueeze(1)
        dist = (rows - w_avg).norm(dim=-1).mean(dim=1)
        return dist / self.engine.typical_w_distance()


# ----------------------------------------------------------------------------------------------
# Entry points used by the engine

def _targets(engine: "GanEngine", images: Any) -> torch.Tensor:
    imgs = [imaging.center_crop_resize(imaging.load_image(img), engine.resolution) for img in images]
    if not imgs:
        raise LatentStudioError("No images to invert.")
    return imaging.to_tensor(imgs, device=engine.device)


def invert(engine: "GanEngine", images: list, *, seed: int = 0, progress: Optional[ProgressCallback] = None,
           on_loss: Optional[LossCallback] = None, **options: Any) -> Result:
    """Invert photos (centre-cropped, resized, alpha on white) into the model's latent space.

    ``on_loss(step, loss)`` is called after every step (a live loss curve); ``progress`` gets previews.
    """
    cfg = ProjectionConfig.from_options(**options)
    return Projector(engine, cfg).run(_targets(engine, images), None, seed, progress, on_loss)


def scribble(engine: "GanEngine", sketch: Any, mask: Any = None, *, seed: int = 0, dilate: int = 0,
             progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None,
             **options: Any) -> Result:
    """A realistic image that agrees with a colour scribble where it has strokes.

    The mask comes from ``mask`` (an image/array: white = strokes) or else from the sketch itself
    (its alpha, or its non-background pixels). Defaults differ from inversion: no perceptual term and
    a pull toward the mean latent (``reg`` 0.01 to w_avg) so the result stays on the manifold.
    """
    options = {"perceptual": "none", "perceptual_weight": 0.0, "reg": 0.01, "reg_to": "mean", **options}
    cfg = ProjectionConfig.from_options(**options)
    res = engine.resolution
    if mask is None:
        m = imaging.mask_from_scribble(sketch, dilate=dilate)
        m = np.asarray(Image.fromarray((m * 255).astype(np.uint8)).resize((res, res), Image.BILINEAR)) / 255.0
        m = (m > 0.5).astype(np.float32) if m.max() > 0 else m
    else:
        m = imaging.load_mask(mask, size=res)
    imaging.check_mask(m)
    sketch_img = imaging.load_image(sketch).resize((res, res), Image.LANCZOS)
    target = imaging.to_tensor(sketch_img, device=engine.device)
    mask_t = torch.as_tensor(np.asarray(m, dtype=np.float32), device=engine.device)[None, None]
    result = Projector(engine, cfg).run(target, mask_t, seed, progress, on_loss)
    result.options["dilate"] = dilate
    return result


def project_guide(engine: "GanEngine", guide: Any, mask: Any = None, *, seed: int = 0,
                  steps: Optional[int] = None, progress: Optional[ProgressCallback] = None, **options: Any) -> Result:
    """`Engine.from_guide` for GANs: full inversion without a mask, scribble projection with one
    (``mask="auto"`` derives it from the guide)."""
    if steps is not None:
        options["steps"] = steps
    if mask is None:
        return invert(engine, [guide], seed=seed, progress=progress, **options)
    return scribble(engine, guide, None if isinstance(mask, str) and mask == "auto" else mask,
                    seed=seed, progress=progress, **options)
