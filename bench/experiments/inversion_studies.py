"""Studies 1-4: how to invert a real photo — losses, generator, latent space, optimiser.

Every run inverts the same held-out photos with `Projector` (one batch, each photo keeps its own
best), and is scored the same way: PSNR and SSIM to the photo, the feature distance of the shared
yardstick, and how far the latent went from the mean (1 ≈ a typical random sample).
"""
from __future__ import annotations

import statistics
import time
from dataclasses import asdict
from typing import Any, Callable, Optional

import torch

from engines import imaging
from engines.base import Result
from engines.stylegan.projector import ProjectionConfig

from . import figures
from .context import Context
from .report import Study, Table

GRID_ROWS = 4
PERCEPTUAL_WEIGHTS = (0.003, 0.01, 0.03, 0.1, 1.0)
REGULARISERS = (0.001, 0.01, 0.1, 1.0)
BASE = dict(space="w+", optimizer="adam", l2=1.0, perceptual="disc", perceptual_weight=0.1)


def project(ctx: Context, engine, *, seed: int = 0, on_loss: Optional[Callable] = None, **options: Any) -> Result:
    """Invert ``ctx.targets``; an identical run (same model, options and seed) is done once and shared
    between studies (e.g. w+ from the mean with L2 + 0.1·P appears in studies 1, 2 and 3)."""
    cfg = ProjectionConfig(**{"frames": 0, **options})
    key = ("projection", id(engine), seed, tuple(sorted(asdict(cfg).items())))
    if on_loss is not None or key not in ctx.cache:
        ctx.cache[key] = engine.project(ctx.targets.to(engine.device), None, cfg, seed=seed, on_loss=on_loss)
    return ctx.cache[key]


def quality(ctx: Context, result: Result, targets: torch.Tensor) -> dict[str, float]:
    images = imaging.to_tensor(result.images)
    m = result.metrics
    return {"PSNR dB": statistics.mean(m["psnr"]), "SSIM": statistics.mean(m["ssim"]),
            "feature dist": float(ctx.dist.paired(images, targets.cpu()).mean()),
            "latent dist": statistics.mean(m["latent_distance"]),
            "s/img": result.timings["total"] / len(images)}


METRIC_COLUMNS = ["PSNR dB", "SSIM", "feature dist", "latent dist", "s/img"]


def _grid(ctx: Context, name: str, runs: list[tuple[str, Result]], title: str):
    k = min(GRID_ROWS, len(ctx.targets))
    photos = imaging.to_pil(ctx.targets[:k])
    rows = [[photos[i]] + [r.images[i] for _, r in runs] for i in range(k)]
    return figures.image_grid(rows, ctx.figures / name, col_labels=["held-out photo"] + [label for label, _ in runs],
                              title=title)


def _best(rows: list[dict], key: str, high: bool = True) -> dict:
    return (max if high else min)(rows, key=lambda r: r[key])


# ---------------------------------------------------------------------------------------------- 1
def losses(ctx: Context) -> Study:
    s = ctx.scale
    configs: list[tuple[str, dict]] = [
        ("L1", dict(l1=1.0, l2=0.0, perceptual="none")),
        ("L2", dict(l2=1.0, perceptual="none")),
        ("perceptual only", dict(l2=0.0, perceptual="disc", perceptual_weight=1.0)),
    ]
    configs += [(f"L2 + {w:g}·P", dict(l2=1.0, perceptual="disc", perceptual_weight=w)) for w in PERCEPTUAL_WEIGHTS]
    configs += [(f"L2 + 0.1·P + reg {r:g}", dict(l2=1.0, perceptual="disc", perceptual_weight=0.1, reg=r, reg_to="mean"))
                for r in REGULARISERS]
    rows, runs = [], []
    for label, opts in configs:
        result = project(ctx, ctx.gan, space="w+", optimizer="adam", steps=s.steps, **opts)
        runs.append((label, result))
        weight = opts.get("perceptual_weight", 0.0) if opts.get("perceptual") != "none" else 0.0
        pixel = "L1" if opts.get("l1") else ("L2" if opts.get("l2") else "none")
        rows.append({"loss": label, "pixel": pixel, "P weight": weight, "reg": opts.get("reg", 0.0),
                     **quality(ctx, result, ctx.targets)})
        print(f"  [1] {label}: {rows[-1]['PSNR dB']:.2f} dB", flush=True)
    study = Study(1, "Losses for inversion", "Which reconstruction loss inverts a held-out photo best: pixel only "
                  "(L1, L2), perceptual only, L2 + perceptual at several weights, and with a pull toward the mean "
                  "latent (the regulariser)?", ctx.describe_data().split(";")[0],
                  f"StyleGAN2 `{ctx.gan_source}`, w+, Adam (lr 0.1, StyleGAN2 projector schedule), {s.steps} steps, "
                  f"mean-w start, seed 0. P = discriminator-feature perceptual loss; the L2 row is L2 + 0·P; the "
                  f"regulariser rows add reg·mean((w − w̄)²) to L2 + 0.1·P (reg 0 is the L2 + 0.1·P row).")
    study.tables.append(Table("Inversion quality per loss (mean over the photos; feature dist and latent dist: lower "
                              "is closer / more typical)", rows, ["loss", "pixel", "P weight", "reg"] + METRIC_COLUMNS))
    study.figures.append(("Held-out photos (left) and their reconstructions under each loss",
                          _grid(ctx, "1_losses.png", runs, "Inversion under each loss")))
    best_psnr, best_feat = _best(rows, "PSNR dB"), _best(rows, "feature dist", high=False)
    l2, reg1 = rows[1], rows[-1]
    study.findings += [
        f"Highest PSNR: {best_psnr['loss']} ({best_psnr['PSNR dB']:.2f} dB); lowest feature distance: "
        f"{best_feat['loss']} ({best_feat['feature dist']:.3f}).",
        f"Perceptual only reaches {rows[2]['PSNR dB']:.2f} dB against {l2['PSNR dB']:.2f} dB for L2 only.",
        f"The regulariser at 1 moves the latent distance from {rows[3 + PERCEPTUAL_WEIGHTS.index(0.1)]['latent dist']:.2f} "
        f"to {reg1['latent dist']:.2f} and PSNR from {rows[3 + PERCEPTUAL_WEIGHTS.index(0.1)]['PSNR dB']:.2f} to "
        f"{reg1['PSNR dB']:.2f} dB."]
    study.notes.append("The feature-distance column uses the same discriminator whose features form P, so it "
                       "favours the P rows; PSNR and SSIM are independent of every loss.")
    return study


# ---------------------------------------------------------------------------------------------- 2
def generators(ctx: Context) -> Study:
    s = ctx.scale
    runs, rows = [], []
    for label, engine, space, init in (("DCGAN, z", ctx.dcgan, "z", "random"),
                                       ("StyleGAN2, z", ctx.gan, "z", "random"),
                                       ("StyleGAN2, w+", ctx.gan, "w+", "mean")):
        result = project(ctx, engine, space=space, init=init, steps=s.steps, **_loss_only())
        runs.append((label, result))
        rows.append({"generator, space": label, "parameters (M)": engine.describe().parameters / 1e6,
                     "ms/step (batch)": result.timings["per_step_ms"], **quality(ctx, result, ctx.targets)})
        print(f"  [2] {label}: {rows[-1]['PSNR dB']:.2f} dB", flush=True)
    study = Study(2, "Generator: DCGAN vs StyleGAN2", "On the same held-out photos and the same loss, how close does "
                  "each generator get?", ctx.describe_data().split(";")[0],
                  f"DCGAN `{ctx.dcgan_source}` (z only) and StyleGAN2 `{ctx.gan_source}` (z and w+); L2 + 0.1·P with "
                  f"each model's own discriminator as P; Adam, {s.steps} steps, seed 0.")
    study.tables.append(Table("Inversion quality per generator", rows))
    study.figures.append(("Held-out photos and their DCGAN / StyleGAN2 reconstructions",
                          _grid(ctx, "2_generators.png", runs, "DCGAN vs StyleGAN2")))
    d, sz, sw = rows
    study.findings.append(f"In z, DCGAN reaches {d['PSNR dB']:.2f} dB and StyleGAN2 {sz['PSNR dB']:.2f} dB; "
                          f"StyleGAN2's w+ reaches {sw['PSNR dB']:.2f} dB (feature dist {d['feature dist']:.3f} / "
                          f"{sz['feature dist']:.3f} / {sw['feature dist']:.3f}).")
    study.notes.append("Both models are ours, trained on the same cat photos at 64 px; the feature yardstick is "
                       "StyleGAN2's discriminator for both.")
    return study


def _loss_only() -> dict:
    return {k: v for k, v in BASE.items() if k not in ("space", "optimizer")}


# ---------------------------------------------------------------------------------------------- 3
def spaces(ctx: Context) -> Study:
    s = ctx.scale
    runs, rows = [], []
    for space in ("z", "w", "w+"):
        for init in ("mean", "random"):
            if space == "z" and init == "mean":
                rows.append({"space": "z", "init": "mean", "PSNR dB": "n/a (see caveats)"})
                continue
            result = project(ctx, ctx.gan, space=space, init=init, steps=s.steps, **_loss_only())
            runs.append((f"{space}, {init}", result))
            rows.append({"space": space, "init": init, **quality(ctx, result, ctx.targets)})
            print(f"  [3] {space} {init}: {rows[-1]['PSNR dB']:.2f} dB", flush=True)
    for init in ("mean", "random"):
        result = project(ctx, ctx.dcgan, space="z", init=init, steps=s.steps, **_loss_only())
        rows.append({"space": "z (DCGAN)", "init": init + (" (z = 0)" if init == "mean" else ""),
                     **quality(ctx, result, ctx.targets)})
    study = Study(3, "Latent space: z vs w vs w+", "How much does the space the photo is inverted into matter, "
                  "and does starting from the mean latent beat a random start?", ctx.describe_data().split(";")[0],
                  f"StyleGAN2 `{ctx.gan_source}` (plus DCGAN z for the mean-vs-random question in z); L2 + 0.1·P; "
                  f"Adam, {s.steps} steps, seed 0. Mean start: w̄ (the tracked average w); random start: a mapped "
                  f"random z (in z: a random z).")
    study.tables.append(Table("Inversion quality per space and start", rows, ["space", "init"] + METRIC_COLUMNS))
    study.figures.append(("Held-out photos and their reconstructions per space and start",
                          _grid(ctx, "3_spaces.png", runs, "z vs w vs w+")))
    done = [r for r in rows if isinstance(r.get("PSNR dB"), float) and "DCGAN" not in r["space"]]
    best = _best(done, "PSNR dB")
    by = {(r["space"], r["init"]): r for r in done}
    study.findings.append(f"Best: {best['space']} from a {best['init']} start ({best['PSNR dB']:.2f} dB). "
                          f"w+ {by[('w+', 'mean')]['PSNR dB']:.2f} dB vs w {by[('w', 'mean')]['PSNR dB']:.2f} dB vs "
                          f"z {by[('z', 'random')]['PSNR dB']:.2f} dB; in w+ the mean start gives "
                          f"{by[('w+', 'mean')]['PSNR dB'] - by[('w+', 'random')]['PSNR dB']:+.2f} dB over a random one.")
    study.notes.append("StyleGAN2 normalises z to the unit sphere before mapping, so z = 0 (the mean of z) has no "
                       "direction and no image: z has no mean start for StyleGAN2. The DCGAN rows show the z = 0 "
                       "start where it is defined.")
    return study


# ---------------------------------------------------------------------------------------------- 4
def optimisers(ctx: Context) -> Study:
    s = ctx.scale
    rows, curves, points, finals = [], {}, {}, []
    for optimizer, budgets in (("adam", s.adam_budgets), ("lbfgs", s.lbfgs_budgets)):
        xs, ys = [], []
        for steps in budgets:
            trace: list[tuple[float, float]] = []
            t0 = time.perf_counter()
            record = (lambda step, loss: trace.append((time.perf_counter() - t0, loss))) if steps == budgets[-1] else None
            result = project(ctx, ctx.gan, optimizer=optimizer, steps=steps, on_loss=record,
                             **{k: v for k, v in BASE.items() if k != "optimizer"})
            q = quality(ctx, result, ctx.targets)
            rows.append({"optimiser": optimizer, "steps": steps, "seconds (batch)": result.timings["total"],
                         "final loss": statistics.mean(result.metrics["loss"]), **q})
            xs.append(result.timings["total"]), ys.append(q["PSNR dB"])
            if trace:
                curves[optimizer] = ([t for t, _ in trace], [l for _, l in trace])
                finals.append((optimizer, result))
            print(f"  [4] {optimizer} {steps} steps: {q['PSNR dB']:.2f} dB in {result.timings['total']:.1f} s", flush=True)
        points[optimizer] = (xs, ys)

    def draw(axes):
        figures.curves({k: v for k, v in curves.items()}, None, xlabel="wall-clock seconds (whole batch)",
                       ylabel="loss per image", title="Loss during the longest run", logy=True, ax=axes[0])
        figures.curves(points, None, xlabel="wall-clock seconds (whole batch)", ylabel="PSNR dB",
                       title="PSNR reached for each step budget", markers=True, ax=axes[1])
    fig = figures.panels(2, ctx.figures / "4_optimisers.png", draw)
    study = Study(4, "Optimiser: Adam vs L-BFGS", "Which optimiser gets a better inversion for the same wall-clock "
                  "time?", ctx.describe_data().split(";")[0],
                  f"StyleGAN2 w+, L2 + 0.1·P, mean-w start. Adam: lr 0.1 with the projector's ramp, budgets "
                  f"{', '.join(map(str, s.adam_budgets))} steps. L-BFGS: lr 1, strong-Wolfe line search, one "
                  f"iteration per step (several function evaluations each), budgets "
                  f"{', '.join(map(str, s.lbfgs_budgets))}. Each budget is its own run.")
    study.tables.append(Table("Quality against steps and seconds (seconds: the whole batch)", rows,
                              ["optimiser", "steps", "seconds (batch)", "final loss"] + METRIC_COLUMNS))
    study.figures.append(("Left: loss against wall-clock time in the longest run of each optimiser. Right: PSNR "
                          "against wall-clock time over the step budgets.", fig))
    study.figures.append(("Reconstructions after the longest run of each optimiser",
                          _grid(ctx, "4_optimiser_images.png", [(f"{o} {r.metrics['steps']} steps", r) for o, r in finals],
                                "Adam vs L-BFGS")))
    adam = [r for r in rows if r["optimiser"] == "adam"]
    lbfgs = [r for r in rows if r["optimiser"] == "lbfgs"]
    cutoff = min(max(r["seconds (batch)"] for r in adam), max(r["seconds (batch)"] for r in lbfgs))
    best_in = {o: max((r for r in rs if r["seconds (batch)"] <= cutoff * 1.05), key=lambda r: r["PSNR dB"], default=None)
               for o, rs in (("Adam", adam), ("L-BFGS", lbfgs))}
    study.findings.append("Within the same time (≤ {:.1f} s for the batch): ".format(cutoff) + "; ".join(
        f"{o} best {r['PSNR dB']:.2f} dB ({r['steps']} steps, {r['seconds (batch)']:.1f} s)"
        for o, r in best_in.items() if r is not None) + ".")
    return study
