"""Studies 7-8: SDEdit's faithfulness-realism trade-off, and GAN vs diffusion on the same sketches.

Faithfulness is the L2 to the guide on the sketch's strokes only ([0, 1] pixel units; the empty
canvas around them is free to change). Realism is measured against held-out real photos: the
yardstick's distance to the nearest one, and patch SWD of the whole output set next to the SWD a
set of as many real training photos gets (× floor; 1 = as real as real photos).
"""
from __future__ import annotations

import statistics
from typing import Any, Optional

from engines import imaging
from engines.diffusion.guide import faithfulness
from engines.diffusion.strength import steps_run

from . import figures
from .context import Context
from .latent_studies import DEFAULT_REG, scribble_runs
from .report import Study, Table

GRID_STEPS = 25


def _conditioning(ctx: Context) -> dict[str, Optional[str]]:
    engine = ctx.diffusion
    if engine.kind != "pixel":
        return {"prompt": "a photo of a cat"}
    return {"class_name": "grumpy cat" if "grumpy cat" in engine.classes else (engine.classes or [None])[0]}


def sdedit_set(ctx: Context, **options: Any) -> dict[str, Any]:
    """SDEdit on every sketch (``scale.seeds`` outputs each, seeds 0…): images, masked L2, seconds."""
    out: dict[str, Any] = {"images": [], "masked_l2": [], "seconds": 0.0, "per_sketch": []}
    for sk in ctx.sketches:
        r = ctx.diffusion.from_guide(sk.image, None, seed=0, n=ctx.scale.seeds, frames=0, **_conditioning(ctx),
                                     **options)
        out["images"] += r.images
        out["per_sketch"].append(r.images)
        out["masked_l2"] += faithfulness(r.images, sk.image, sk.mask)["masked_l2"]
        out["seconds"] += r.timings["total"]
    return out


# ---------------------------------------------------------------------------------------------- 7
def sdedit(ctx: Context) -> Study:
    s = ctx.scale
    rows, kept = [], {}
    grid_steps = min(s.sdedit_steps, key=lambda n: abs(n - GRID_STEPS))
    for strength in s.strengths:
        for guidance in s.guidances:
            for scheduler in ("ddpm", "ddim"):
                for steps in s.sdedit_steps:
                    run = sdedit_set(ctx, steps=steps, strength=strength, scheduler=scheduler, guidance=guidance)
                    realism = ctx.realism(imaging.to_tensor(run["images"]))
                    rows.append({"N (of 1000)": int(round(strength * 1000)), "guidance": guidance,
                                 "scheduler": scheduler.upper(), "steps": steps,
                                 "denoising steps": steps_run(steps, strength), "masked L2": statistics.mean(run["masked_l2"]),
                                 "nearest real": realism["nearest real"], "SWD": realism["SWD"],
                                 "SWD × floor": realism["SWD × floor"], "s/img": run["seconds"] / len(run["images"])})
                    if steps == grid_steps:
                        kept[(strength, guidance, scheduler)] = [imgs[0] for imgs in run["per_sketch"]]
                    print(f"  [7] N={strength:g} g={guidance:g} {scheduler} {steps}: masked L2 "
                          f"{rows[-1]['masked L2']:.4f}, SWD×floor {rows[-1]['SWD × floor']:.2f}", flush=True)
    cond = _conditioning(ctx)
    study = Study(7, "SDEdit: strength × guidance × scheduler", "How do the noise level N, the guidance scale and "
                  "the sampler trade faithfulness to a sketch against realism?",
                  f"{len(ctx.sketches)} sketches from `{ctx.sketches_dir}` ({s.seeds} seed(s) each, whole image "
                  f"re-imagined: no mask); realism against {len(ctx.real_pool)} held-out real photos.",
                  f"Diffusion model `{ctx.diffusion_source}`, conditioning {cond}; N = strength × 1000 of the 1000 "
                  f"training timesteps; DDPM and DDIM (η = 0) with {', '.join(map(str, s.sdedit_steps))} steps over "
                  f"the full schedule, of which int(steps × strength) are run (diffusers' img2img convention); "
                  f"guidance 1 = no classifier-free guidance.")
    study.tables.append(Table("Faithfulness (masked L2 to the strokes, lower = more faithful) and realism (nearest "
                              "real and SWD × floor, lower = more real) per setting", rows))
    colours = {f"N = {int(st * 1000)}": ([r["masked L2"] for r in rows if r["N (of 1000)"] == int(st * 1000)],
                                         [r["SWD × floor"] for r in rows if r["N (of 1000)"] == int(st * 1000)])
               for st in s.strengths}
    study.figures.append(("The trade-off: every setting as a point, coloured by noise level",
                          figures.scatter(colours, ctx.figures / "7_tradeoff.png", xlabel="masked L2 to the strokes",
                                          ylabel="SWD × real floor")))
    by_sampler = {f"{sch.upper()} {n}": ([r["masked L2"] for r in rows if r["scheduler"] == sch.upper() and r["steps"] == n],
                                         [r["nearest real"] for r in rows if r["scheduler"] == sch.upper() and r["steps"] == n])
                  for sch in ("ddpm", "ddim") for n in s.sdedit_steps}
    study.figures.append(("The same points coloured by sampler (realism as nearest-real feature distance)",
                          figures.scatter(by_sampler, ctx.figures / "7_samplers.png", xlabel="masked L2 to the strokes",
                                          ylabel="nearest real (feature dist)")))
    first = ctx.sketches[0]
    grid = [[first.image] + [kept[(st, g, sch)][0] for g in s.guidances for sch in ("ddpm", "ddim")]
            for st in s.strengths]
    study.figures.append((f"Sketch {first.name} at {grid_steps} steps: rows N = "
                          f"{', '.join(str(int(st * 1000)) for st in s.strengths)}; columns guidance × sampler",
                          figures.image_grid(grid, ctx.figures / "7_grid.png",
                                             col_labels=["sketch"] + [f"g {g:g} {sch.upper()}" for g in s.guidances
                                                                      for sch in ("ddpm", "ddim")],
                                             row_labels=[f"N = {int(st * 1000)}" for st in s.strengths])))
    per_n = [(int(st * 1000), statistics.mean(r["masked L2"] for r in rows if r["N (of 1000)"] == int(st * 1000)),
              statistics.mean(r["SWD × floor"] for r in rows if r["N (of 1000)"] == int(st * 1000))) for st in s.strengths]
    per_g = [(g, statistics.mean(r["masked L2"] for r in rows if r["guidance"] == g),
              statistics.mean(r["SWD × floor"] for r in rows if r["guidance"] == g)) for g in s.guidances]
    per_s = [(f"{sch.upper()} {n}", statistics.mean(r["SWD × floor"] for r in rows
                                                   if r["scheduler"] == sch.upper() and r["steps"] == n))
             for sch in ("ddpm", "ddim") for n in s.sdedit_steps]
    best = min(rows, key=lambda r: r["masked L2"] * r["SWD × floor"])
    study.findings += [
        "Mean over the other knobs, by N: " + "; ".join(f"N {n}: masked L2 {a:.4f}, SWD × floor {b:.2f}" for n, a, b in per_n) + ".",
        "By guidance: " + "; ".join(f"{g:g}: masked L2 {a:.4f}, SWD × floor {b:.2f}" for g, a, b in per_g) + ".",
        "SWD × floor by sampler: " + ", ".join(f"{k} {v:.2f}" for k, v in per_s) + ".",
        f"Lowest product of the two: N {best['N (of 1000)']}, guidance {best['guidance']:g}, {best['scheduler']} "
        f"{best['steps']} (masked L2 {best['masked L2']:.4f}, SWD × floor {best['SWD × floor']:.2f})."]
    study.notes.append("SWD over a few dozen images is noisy and biased upward; the floor is measured at the same "
                       "count, and the nearest-real column is a per-image check.")
    return study


# ---------------------------------------------------------------------------------------------- 8
def gan_vs_diffusion(ctx: Context) -> Study:
    s = ctx.scale
    steps_fast = min(10, max(s.sdedit_steps))
    contenders = [("GAN scribble (StyleGAN2 w+)", scribble_runs(ctx, DEFAULT_REG, 1)),
                  ("SDEdit DDIM 50, N = 600", sdedit_set(ctx, steps=50, strength=0.6, scheduler="ddim")),
                  (f"SDEdit DDIM {steps_fast}, N = 600", sdedit_set(ctx, steps=steps_fast, strength=0.6, scheduler="ddim"))]
    rows = []
    n = len(ctx.sketches)
    for label, run in contenders:
        realism = ctx.realism(imaging.to_tensor(run["images"]))
        rows.append({"engine": label, "results": len(run["images"]), "masked L2": statistics.mean(run["masked_l2"]),
                     "nearest real": realism["nearest real"], "SWD": realism["SWD"],
                     "SWD × floor": realism["SWD × floor"], "seconds per result": run["seconds"] / len(run["images"])})
        print(f"  [8] {label}: {rows[-1]}", flush=True)
    study = Study(8, "GAN vs diffusion on the same sketches", "Given the same sketch, which engine gives the more "
                  "faithful, the more realistic result, and how fast?",
                  f"{n} sketches from `{ctx.sketches_dir}`, {s.seeds} seed(s) each; realism against "
                  f"{len(ctx.real_pool)} held-out real photos.",
                  f"GAN: StyleGAN2 `{ctx.gan_source}` scribble projection (w+, Adam, {s.scribble_steps} steps, "
                  f"reg {DEFAULT_REG:g} to w̄ — the app's defaults apart from steps). Diffusion: `{ctx.diffusion_source}` "
                  f"SDEdit with no mask, conditioning {_conditioning(ctx)}, guidance {ctx.diffusion.default_guidance:g} "
                  f"(the model's default), N = 600.")
    study.tables.append(Table("Faithfulness, realism and time per result", rows))
    grid = [[sk.image] + [run["per_sketch"][i][0] for _, run in contenders] for i, sk in enumerate(ctx.sketches)]
    study.figures.append(("Each sketch (left) through both engines (seed 0)",
                          figures.image_grid(grid, ctx.figures / "8_gan_vs_diffusion.png",
                                             col_labels=["sketch"] + [label for label, _ in contenders],
                                             row_labels=[sk.name for sk in ctx.sketches])))
    gan, d50 = rows[0], rows[1]
    study.findings.append(
        f"GAN: masked L2 {gan['masked L2']:.4f}, SWD × floor {gan['SWD × floor']:.2f}, {gan['seconds per result']:.2f} s; "
        f"SDEdit DDIM 50: masked L2 {d50['masked L2']:.4f}, SWD × floor {d50['SWD × floor']:.2f}, "
        f"{d50['seconds per result']:.2f} s per result.")
    study.notes.append("The GAN optimises the masked L2 directly, so it is favoured on faithfulness by construction; "
                       "SDEdit never sees the mask and is scored on the same strokes.")
    return study
