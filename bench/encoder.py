"""Fast inversion: the encoder start + a short refinement against optimisation from the mean, on held-out photos.

    python -m bench.encoder [--model weights/stylegan2-cats64] [--encoder FOLDER] [--photos 16] [--timing-photos 3]
                            [--recipes encoder+100+noise encoder+50+pti100 …]
                            [--out bench/results/encoder.json]

Held-out photos: the validation split of ``../shared/data/cats`` (never seen by the GAN or the encoder).
Each recipe inverts all of them in w+ (batched: per-image results equal single runs) and reports mean
PSNR, SSIM and realism (`evaluation.realism`, real photos ≈ 0.5); seconds per photo are measured
separately, one photo at a time (batch 1), as a user inverting one photo would wait. Recipes:
``mean + N`` (the old start, N Adam steps), ``encoder + N`` (N = 0 is the encoder alone), ``… + noise``
(the noise maps fitted too, with the default noise regulariser: the engine's default for StyleGAN2) and
``…, PTI M`` (pivotal tuning of a generator copy for M steps afterwards). The goal of issue 18:
≥ 26 dB in ≤ 5 s per photo on 2 CPU cores; the table says which recipes meet it.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from engines import data as datasets
from engines import imaging
from engines.stylegan.encoder import load_encoder
from engines.stylegan.engine import GanEngine
from engines.stylegan.projector import ProjectionConfig

RECIPES = ["mean+300", "mean+50", "encoder+0", "encoder+50", "encoder+100", "encoder+300",
           "encoder+50+noise", "encoder+75+noise", "encoder+100+noise", "encoder+150+noise",
           "encoder+50+pti50", "encoder+50+pti100", "encoder+50+pti200", "encoder+50+noise+pti100"]


def parse_recipe(text: str) -> tuple[str, int, bool, int]:
    """"encoder+100+noise+pti50" → (init, steps, fit noise, PTI steps)."""
    init, steps, *rest = text.split("+")
    noise = "noise" in rest
    pti = [int(r[3:]) for r in rest if r.startswith("pti")]
    if init not in ("mean", "encoder") or any(r != "noise" and not r.startswith("pti") for r in rest):
        raise SystemExit(f"bad recipe {text!r}: INIT+STEPS[+noise][+ptiM], INIT mean or encoder")
    return init, int(steps), noise, pti[0] if pti else 0


def recipe_name(init: str, steps: int, noise: bool, pti: int) -> str:
    return f"{init} + {steps}" + (" + noise" if noise else "") + (f", PTI {pti}" if pti else "")


def invert(engine: GanEngine, photos: list, init: str, steps: int, noise: bool, pti: int) -> dict:
    options = dict(space="w+", init=init, frames=0, seed=0, optimize_noise=noise)
    if steps == 0:  # the start alone: one step at a negligible learning rate reports it unchanged
        options.update(steps=1, lr=1e-6)
    else:
        options.update(steps=steps)
    t0 = time.perf_counter()
    result = engine.invert(photos, pti_steps=pti, **options)
    return {"seconds": time.perf_counter() - t0, "psnr": result.metrics["psnr"], "ssim": result.metrics["ssim"],
            "realism": result.metrics.get("realism", [float("nan")]), "images": result.images}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="weights/stylegan2-cats64")
    p.add_argument("--encoder", help="an encoder folder to test (default: the model's encoder/)")
    p.add_argument("--data", default="../shared/data/cats")
    p.add_argument("--photos", type=int, default=16)
    p.add_argument("--timing-photos", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--recipes", nargs="+", metavar="INIT+STEPS[+noise][+ptiM]",
                   help="only these recipes, e.g. encoder+100+noise encoder+50+pti100 (default: all)")
    p.add_argument("--figure", type=Path, help="write held-out photos over each recipe's results (PNG)")
    p.add_argument("--out", type=Path, default=Path("bench/results/encoder.json"))
    args = p.parse_args(argv)
    engine = GanEngine(args.model, device=args.device)
    if args.encoder:
        engine.encoder = load_encoder(args.encoder, fingerprint=engine.fingerprint, device=engine.device)
    if engine.encoder is None:
        raise SystemExit(f"{args.model} has no encoder/; pass --encoder FOLDER")
    val = datasets.load_split(args.data, engine.resolution, 0.05, "val")[: args.photos]
    photos = [np.asarray(x.permute(1, 2, 0)) for x in val]
    rows, figure = [], [imaging.to_pil(datasets.to_float(val[:8]))]
    print(f"{len(photos)} held-out photos, {args.timing_photos} timed alone; torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    recipes = [parse_recipe(r) for r in (args.recipes or RECIPES)]
    print(f"{'recipe':<30}{'PSNR dB':>9}{'SSIM':>7}{'realism':>9}{'s / photo alone':>17}")
    for init, steps, noise, pti in recipes:
        name = recipe_name(init, steps, noise, pti)
        quality = invert(engine, photos, init, steps, noise, pti)  # PTI tunes one generator copy per photo
        alone = [invert(engine, [ph], init, steps, noise, pti)["seconds"] for ph in photos[: args.timing_photos]]
        row = {"recipe": name, "init": init, "steps": steps, "noise": noise, "pti_steps": pti,
               "photos": len(quality["psnr"]),
               "psnr": float(np.mean(quality["psnr"])), "ssim": float(np.mean(quality["ssim"])),
               "realism": float(np.nanmean(quality["realism"])), "seconds_alone": float(np.median(alone))}
        row["meets_goal"] = row["psnr"] >= 26 and row["seconds_alone"] <= 5
        rows.append(row)
        figure.append(quality["images"][:8])
        print(f"{name:<30}{row['psnr']:>9.2f}{row['ssim']:>7.3f}{row['realism']:>9.3f}{row['seconds_alone']:>17.2f}"
              + ("  ← goal met" if row["meets_goal"] else ""))
    record = {"model": args.model, "encoder": args.encoder or "model folder", "noise_reg": ProjectionConfig().noise_reg,
              "rows": rows,
              "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "load_average": os.getloadavg()[0]}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    if args.figure:
        imaging.make_grid([im for row in figure for im in row], nrow=8).save(args.figure)
    return record


if __name__ == "__main__":
    main()
