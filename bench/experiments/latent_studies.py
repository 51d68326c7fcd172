"""Studies 5-6: moving in latent space — interpolation paths and scribble-to-image.

Interpolation reuses the inversions of study 3 (z from a random start, w and w+ from the mean) when
they exist, so the paths join exactly the reconstructions scored there. Scribbles run the projector
on every sketch at once, masked to its strokes, with the pull toward the mean latent as the knob.
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np
import torch

from engines import imaging
from engines.stylegan.interpolation import crossfade, smoothness
from engines.stylegan.projector import ProjectionConfig

from . import figures
from .context import Context
from .inversion_studies import _loss_only, project
from .report import Study, Table

PATHS = (("z", "random", "z slerp"), ("w", "mean", "w lerp"), ("w+", "mean", "w+ lerp"))
SCRIBBLE_REGS = (0.0, 0.001, 0.01, 0.1, 1.0)
DEFAULT_REG = 0.01


# ---------------------------------------------------------------------------------------------- 5
def _inverted(ctx: Context, space: str, init: str):
    return project(ctx, ctx.gan, space=space, init=init, steps=ctx.scale.steps, **_loss_only())


def path_metrics(ctx: Context, frames: list) -> dict[str, Any]:
    x = imaging.to_tensor(frames)
    step = ctx.dist.paired(x[:-1], x[1:])
    return {"steps": step.tolist(), "mean step": float(step.mean()), "step variance": float(step.var(unbiased=False)),
            "largest / mean step": float(step.max() / step.mean().clamp_min(1e-12)),
            "pixel step": smoothness(frames)["step_mean"],
            "inner frames: nearest real": float(ctx.dist.nearest(x[1:-1], ctx.real_pool_features).mean())
            if len(frames) > 2 else float("nan")}


def interpolation(ctx: Context) -> Study:
    s, gan = ctx.scale, ctx.gan
    pairs = [(2 * i, 2 * i + 1) for i in range(min(s.pairs, len(ctx.targets) // 2))]
    photos = imaging.to_pil(ctx.targets)
    per_method: dict[str, list[dict]] = {label: [] for *_, label in PATHS}
    per_method["pixel cross-fade"] = []
    seconds: dict[str, float] = {k: 0.0 for k in per_method}
    grids = []
    for a, b in pairs:
        rows, labels = [], []
        for space, init, label in PATHS:
            latents, _ = gan.load_latent(_inverted(ctx, space, init).latents)
            ends = [gan.latent_record(latents[i:i + 1], space) for i in (a, b)]
            result = gan.interpolate(ends[0], ends[1], space=space, frames=s.frames, crossfade_row=False)
            seconds[label] += result.timings["render"]
            per_method[label].append(path_metrics(ctx, result.images))
            rows.append(result.images), labels.append(label)
        t0 = time.perf_counter()
        fade = crossfade(photos[a], photos[b], s.frames)
        seconds["pixel cross-fade"] += time.perf_counter() - t0
        per_method["pixel cross-fade"].append(path_metrics(ctx, fade))
        rows.append(fade), labels.append("pixel cross-fade")
        grids.append(figures.image_grid(rows, ctx.figures / f"5_interpolation_pair{len(grids)}.png", row_labels=labels,
                                        col_labels=[f"t={t:.2f}" for t in np.linspace(0, 1, s.frames)],
                                        title=f"Held-out photos {a} → {b}"))
    table = []
    for label, items in per_method.items():
        table.append({"path": label, "mean step (feature dist)": statistics.mean(m["mean step"] for m in items),
                      "step variance": statistics.mean(m["step variance"] for m in items),
                      "largest / mean step": statistics.mean(m["largest / mean step"] for m in items),
                      "mean step (pixel L1)": statistics.mean(m["pixel step"] for m in items),
                      "inner frames: nearest real": statistics.mean(m["inner frames: nearest real"] for m in items),
                      "s/frame": seconds[label] / (len(pairs) * s.frames)})
    study = Study(5, "Interpolation: z slerp vs w vs w+ vs pixel cross-fade",
                  "Between two inverted photos, which path changes most evenly, and which stays realistic in the "
                  "middle?", f"{len(pairs)} pairs of held-out photos (the study-3 targets, paired in order)",
                  f"Endpoints: the study-3 inversions (z from a random start, w and w+ from the mean; {s.steps} Adam "
                  f"steps, L2 + 0.1·P). {s.frames} frames per path; z uses slerp, w and w+ lerp; the cross-fade blends "
                  f"the two photos themselves. Smoothness = distance between consecutive frames in the yardstick's "
                  f"features: its mean, its variance along the path (low = no sudden jumps) and the largest step over "
                  f"the mean step. Realism of the path = feature distance of the inner frames to the nearest real photo.")
    study.tables.append(Table("Smoothness and realism along the path (mean over pairs)", table))
    mean_steps = {label: [statistics.mean(m["steps"][k] for m in items) for k in range(s.frames - 1)]
                  for label, items in per_method.items()}
    study.figures.append(("Feature distance between consecutive frames along each path (mean over pairs)",
                          figures.curves({k: (list(range(1, s.frames)), v) for k, v in mean_steps.items()},
                                         ctx.figures / "5_steps.png", xlabel="step (frame k → k+1)",
                                         ylabel="feature distance", markers=True)))
    for i, grid in enumerate(grids[:2]):
        study.figures.append((f"Pair {i}: the four paths", grid))
    by = {r["path"]: r for r in table}
    evenest = min(table, key=lambda r: r["step variance"])
    realest = min(table, key=lambda r: r["inner frames: nearest real"])
    study.findings += [
        f"Most even path (lowest step variance): {evenest['path']}; "
        f"largest/mean step: " + ", ".join(f"{r['path']} {r['largest / mean step']:.2f}" for r in table) + ".",
        f"Inner frames closest to real photos: {realest['path']} ({realest['inner frames: nearest real']:.3f}; "
        f"cross-fade {by['pixel cross-fade']['inner frames: nearest real']:.3f})."]
    study.notes.append("The endpoints differ per space (each space reconstructs the photos to a different degree, "
                       "see study 3), so the paths do not join identical images; the cross-fade joins the photos.")
    return study


# ---------------------------------------------------------------------------------------------- 6
def _scribble_batch(ctx: Context) -> tuple[torch.Tensor, torch.Tensor]:
    targets = imaging.to_tensor([sk.image for sk in ctx.sketches]).to(ctx.gan.device)
    masks = torch.stack([torch.from_numpy(sk.mask.astype(np.float32)) for sk in ctx.sketches])[:, None]
    return targets, masks.to(ctx.gan.device)


def scribble_runs(ctx: Context, reg: float, restarts: int) -> dict[str, Any]:
    """Every sketch at once, for each seed: images (seed-major), masked L2, latent distance, seconds, and
    ``per_sketch`` (each sketch's images by seed)."""
    key = ("scribble", reg, restarts)
    if key not in ctx.cache:
        targets, masks = _scribble_batch(ctx)
        out: dict[str, Any] = {"images": [], "masked_l2": [], "latent_distance": [], "seconds": 0.0}
        cfg = ProjectionConfig(space="w+", optimizer="adam", steps=ctx.scale.scribble_steps, l2=1.0, perceptual="none",
                               perceptual_weight=0.0, reg=reg, reg_to="mean", restarts=restarts, frames=0)
        for seed in range(ctx.scale.seeds):
            r = ctx.gan.project(targets, masks, cfg, seed=seed)
            out["images"] += r.images
            out["masked_l2"] += r.metrics["masked_l2"]
            out["latent_distance"] += r.metrics["latent_distance"]
            out["seconds"] += r.timings["total"]
        n = len(ctx.sketches)
        out["per_sketch"] = [out["images"][i::n] for i in range(n)]
        ctx.cache[key] = out
    return ctx.cache[key]


def _by_kind(ctx: Context, values: list[float], kind: str) -> float:
    n = len(ctx.sketches)
    picked = [v for i, v in enumerate(values) if ctx.sketches[i % n].kind == kind]
    return statistics.mean(picked) if picked else float("nan")


def scribbles(ctx: Context) -> Study:
    s = ctx.scale
    configs = [(reg, 1) for reg in SCRIBBLE_REGS] + [(DEFAULT_REG, 5)]
    rows, columns = [], []
    for reg, restarts in configs:
        run = scribble_runs(ctx, reg, restarts)
        images = imaging.to_tensor(run["images"])
        realism = ctx.realism(images)
        rows.append({"reg": reg, "restarts": restarts,
                     "masked L2 sparse": _by_kind(ctx, run["masked_l2"], "sparse"),
                     "masked L2 dense": _by_kind(ctx, run["masked_l2"], "dense"),
                     "latent dist sparse": _by_kind(ctx, run["latent_distance"], "sparse"),
                     "latent dist dense": _by_kind(ctx, run["latent_distance"], "dense"),
                     "nearest real": realism["nearest real"], "SWD × floor": realism["SWD × floor"],
                     "s/img": run["seconds"] / len(images)})
        columns.append((f"reg {reg:g}" + (f", {restarts} restarts" if restarts > 1 else ""), run["images"]))
        print(f"  [6] reg {reg:g} restarts {restarts}: masked L2 {statistics.mean(run['masked_l2']):.4f}", flush=True)
    kinds = ", ".join(f"{sk.name} ({sk.kind}, {sk.coverage:.0%})" for sk in ctx.sketches)
    study = Study(6, "Scribbles: sparse vs dense, regulariser, restarts",
                  "How faithful to the strokes, and how typical, is the image a scribble turns into — by sketch "
                  "density, pull toward the mean latent, and number of random restarts?",
                  f"{len(ctx.sketches)} sketches from `{ctx.sketches_dir}` with their stroke coverage: {kinds}. "
                  f"Dense = strokes cover ≥ 50 % of the image.",
                  f"StyleGAN2 `{ctx.gan_source}`, w+, Adam, {s.scribble_steps} steps, masked L2 on the strokes + "
                  f"reg·mean((w − w̄)²); restart 1 starts at w̄, further restarts at mapped random z and the lowest "
                  f"loss wins; {s.seeds} seed(s) per sketch. Masked L2 in [0, 1] pixel units on the strokes; latent "
                  f"dist = distance from w̄ relative to a typical sample's (1 ≈ typical).")
    study.tables.append(Table("Faithfulness (masked L2), typicality (latent dist) and realism per setting", rows))
    n = len(ctx.sketches)
    grid_rows = [[sk.image] + [imgs[i] for _, imgs in columns] for i, sk in enumerate(ctx.sketches)]
    study.figures.append(("Sketches (left) and the images under each setting (seed 0)",
                          figures.image_grid(grid_rows, ctx.figures / "6_scribbles.png",
                                             col_labels=["sketch"] + [c for c, _ in columns],
                                             row_labels=[f"{sk.name} ({sk.kind})" for sk in ctx.sketches[:n]])))
    r0, r1, rr = rows[0], rows[len(SCRIBBLE_REGS) - 1], rows[-1]
    base = rows[SCRIBBLE_REGS.index(DEFAULT_REG)]
    study.findings += [
        f"reg 0 → 1: masked L2 (sparse / dense) {r0['masked L2 sparse']:.4f} / {r0['masked L2 dense']:.4f} → "
        f"{r1['masked L2 sparse']:.4f} / {r1['masked L2 dense']:.4f}; latent dist {r0['latent dist sparse']:.2f} / "
        f"{r0['latent dist dense']:.2f} → {r1['latent dist sparse']:.2f} / {r1['latent dist dense']:.2f}.",
        f"5 restarts vs 1 at reg {DEFAULT_REG:g}: masked L2 sparse {base['masked L2 sparse']:.4f} → "
        f"{rr['masked L2 sparse']:.4f}, dense {base['masked L2 dense']:.4f} → {rr['masked L2 dense']:.4f}, "
        f"at {rr['s/img'] / base['s/img']:.1f}× the time."]
    return study
