"""Fast inversion: the encoder start + a short refinement against optimisation from the mean, on held-out photos.

    python -m bench.encoder [--model weights/stylegan2-cats64] [--encoder FOLDER] [--photos 16] [--timing-photos 3] [--recipes encoder+50+75 …]
                            [--out bench/results/encoder.json]

Held-out photos: the validation split of ``../shared/data/cats`` (never seen by the GAN or the encoder).
Each recipe inverts all of them in w+ (batched: per-image results equal single runs) and reports mean
PSNR, SSIM and realism (`evaluation.realism`, real photos ≈ 0.5); seconds per photo are measured
separately, one photo at a time (batch 1), as a user inverting one photo would wait. Recipes:
``mean + N`` (today's start, N Adam steps), ``encoder + N`` (N = 0 is the encoder alone) and
``encoder + N, PTI M`` (pivotal tuning of a generator copy for M steps afterwards). The goal of issue 18:
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

RECIPES = [("mean", 300, 0), ("mean", 50, 0), ("encoder", 0, 0), ("encoder", 50, 0), ("encoder", 100, 0),
           ("encoder", 300, 0), ("encoder", 50, 50), ("encoder", 50, 75), ("encoder", 50, 100), ("encoder", 50, 200)]


def invert(engine: GanEngine, photos: list, init: str, steps: int, pti: int) -> dict:
    options = dict(space="w+", init=init, frames=0, seed=0)
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
    p.add_argument("--recipes", nargs="+", metavar="INIT+STEPS[+PTI]",
                   help="only these recipes, e.g. encoder+50+75 (default: all)")
    p.add_argument("--figure", type=Path, help="write held-out photos over each recipe's results (PNG)")
    p.add_argument("--out", type=Path, default=Path("bench/results/encoder.json"))
    args = p.parse_args(argv)
    engine = GanEngine(args.model, device=args.device)
    if args.encoder:
        engine._encoder = load_encoder(args.encoder, fingerprint=engine.fingerprint, device=engine.device)
    if engine.encoder is None:
        raise SystemExit(f"{args.model} has no encoder/; pass --encoder FOLDER")
    val = datasets.load_split(args.data, engine.resolution, 0.05, "val")[: args.photos]
    photos = [np.asarray(x.permute(1, 2, 0)) for x in val]
    rows, figure = [], [imaging.to_pil(datasets.to_float(val[:8]))]
    print(f"{len(photos)} held-out photos, {args.timing_photos} timed alone; torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'recipe':<24}{'PSNR dB':>9}{'SSIM':>7}{'realism':>9}{'s / photo alone':>17}")
    recipes = RECIPES if not args.recipes else [
        (r.split("+")[0], int(r.split("+")[1]), int((r.split("+") + ["0"])[2])) for r in args.recipes]
    for init, steps, pti in recipes:
        name = f"{init} + {steps}" + (f", PTI {pti}" if pti else "")
        quality = invert(engine, photos, init, steps, pti)  # PTI tunes one generator copy per photo
        alone = [invert(engine, [ph], init, steps, pti)["seconds"] for ph in photos[: args.timing_photos]]
        row = {"recipe": name, "init": init, "steps": steps, "pti_steps": pti, "photos": len(quality["psnr"]),
               "psnr": float(np.mean(quality["psnr"])), "ssim": float(np.mean(quality["ssim"])),
               "realism": float(np.nanmean(quality["realism"])), "seconds_alone": float(np.median(alone))}
        row["meets_goal"] = row["psnr"] >= 26 and row["seconds_alone"] <= 5
        rows.append(row)
        figure.append(quality["images"][:8])
        print(f"{name:<24}{row['psnr']:>9.2f}{row['ssim']:>7.3f}{row['realism']:>9.3f}{row['seconds_alone']:>17.2f}"
              + ("  ← goal met" if row["meets_goal"] else ""))
    record = {"model": args.model, "encoder": args.encoder or "model folder", "rows": rows,
              "machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "load_average": os.getloadavg()[0]}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    if args.figure:
        imaging.make_grid([im for row in figure for im in row], nrow=8).save(args.figure)
    return record


if __name__ == "__main__":
    main()
