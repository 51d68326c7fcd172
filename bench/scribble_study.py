"""Which scribble settings stay on the manifold: latent space × regulariser × restarts, on real sketches.

    python -m bench.scribble_study [--steps 150] [--seeds 2] [--out bench/results/scribble_study.json]

Runs the GAN's scribble projection (all sketches as one batch, each with its own stroke mask) on the
project's example sketches (``assets/examples/sketches``) and the hand-drawn ones in
``../shared/data/sketches``, for each setting and seed, and reports faithfulness (masked L2 to the
strokes, lower = closer) beside realism (`evaluation.realism`, 0.5 ≈ a real photo, 0 = a flat patch),
the seconds per sketch, and how much two seeds differ (mean absolute pixel change, 8-bit levels). The
chosen defaults (`engine.SCRIBBLE_DEFAULTS`) come from this table; a contact sheet of the results is
written next to the JSON.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from engines import imaging
from engines.stylegan.engine import SCRIBBLE_DEFAULTS, GanEngine
from engines.stylegan.projector import ProjectionConfig

from .diffusion_quality import load_sketches

_LATENT_ONLY = dict(optimize_noise=False)
_MEAN = dict(init="mean")  # the scribble defaults start from random latents; these rows start from the mean w
SETTINGS = [  # (label, options over the scribble defaults' perceptual / reg_to)
    ("w+ reg 0.01, 1 run from the mean (old default)", dict(space="w+", reg=0.01, restarts=1, **_MEAN, **_LATENT_ONLY)),
    ("w+ reg 0.01, 4 restarts from the mean", dict(space="w+", reg=0.01, restarts=4, **_MEAN, **_LATENT_ONLY)),
    ("w+ reg 0.03, 4 restarts from the mean", dict(space="w+", reg=0.03, restarts=4, **_MEAN, **_LATENT_ONLY)),
    ("w+ reg 0.1, 4 restarts from the mean", dict(space="w+", reg=0.1, restarts=4, **_MEAN, **_LATENT_ONLY)),
    ("w+ reg 0.03, 4 random starts", dict(space="w+", reg=0.03, restarts=4, init="random", **_LATENT_ONLY)),
    ("w reg 0.003, 4 restarts from the mean", dict(space="w", reg=0.003, restarts=4, **_MEAN, **_LATENT_ONLY)),
    ("w reg 0.01, 4 restarts from the mean", dict(space="w", reg=0.01, restarts=4, **_MEAN, **_LATENT_ONLY)),
    ("w reg 0.03, 4 restarts from the mean", dict(space="w", reg=0.03, restarts=4, **_MEAN, **_LATENT_ONLY)),
    ("w+ reg 0.03, 3 random starts, latent only (the previous default)",
     dict(space="w+", reg=0.03, restarts=3, init="random", **_LATENT_ONLY)),
    # the noise maps fitted under the strokes too: the regulariser sets how much stroke detail they take
    *[(f"w+ reg 0.03, 3 random starts, noise maps (noise reg {r:g})",
       dict(space="w+", reg=0.03, restarts=3, init="random", optimize_noise=True, noise_reg=float(r)))
      for r in (1000, 200, 100, 50)],
]


def example_sketches(engine: GanEngine, assets: Path, shared: Path) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    names, targets, masks = [], [], []
    for path in sorted(assets.glob("*.png")):
        t, m = engine.scribble_target(path)
        names.append(path.stem), targets.append(t), masks.append(m)
    if shared.is_dir():
        for name, sketch, mask in load_sketches(shared, engine.resolution):
            t, m = engine.scribble_target(sketch, mask)
            names.append(name), targets.append(t), masks.append(m)
    return names, torch.cat(targets), torch.cat(masks)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--assets", type=Path, default=Path("assets/examples/sketches"))
    p.add_argument("--sketches", type=Path, default=Path("../shared/data/sketches"))
    p.add_argument("--out", type=Path, default=Path("bench/results/scribble_study.json"))
    p.add_argument("--only", nargs="+", metavar="TEXT",
                   help="run only the settings whose label contains one of these; the other rows are kept from --out "
                        "(the contact sheet then shows the settings run)")
    args = p.parse_args(argv)
    engine = GanEngine(args.model, device="cpu")
    names, targets, masks = example_sketches(engine, args.assets, args.sketches)
    rows, sheet = [], [imaging.to_pil(targets)]
    chosen = [(label, opts) for label, opts in SETTINGS if not args.only or any(t in label for t in args.only)]
    kept = {}
    if args.only and args.out.is_file():
        old = json.loads(args.out.read_text())
        if old.get("steps") == args.steps and old.get("seeds") == args.seeds:
            kept = {r["setting"]: r for r in old["rows"]}
    for label, opts in SETTINGS:
        if (label, opts) not in chosen:
            if label in kept:
                rows.append(kept[label])
            continue
        cfg = ProjectionConfig.from_options(**{**SCRIBBLE_DEFAULTS, **opts, "steps": args.steps, "frames": 0})
        per_seed = []
        start = time.perf_counter()
        for seed in range(args.seeds):
            per_seed.append(engine.project(targets, masks, cfg, seed=seed))
        seconds = (time.perf_counter() - start) / (args.seeds * len(names))
        first = np.stack([np.asarray(im, dtype=np.float32) for im in per_seed[0].images])
        spread = (np.mean([np.abs(np.stack([np.asarray(im, dtype=np.float32) for im in r.images]) - first).mean()
                           for r in per_seed[1:]]) if len(per_seed) > 1 else 0.0)
        ml2 = [v for r in per_seed for v in r.metrics["masked_l2"]]
        real = [v for r in per_seed for v in r.metrics["realism"]]
        dist = [v for r in per_seed for v in r.metrics["latent_distance"]]
        rows.append({"setting": label, "masked_l2": round(float(np.mean(ml2)), 4), "realism": round(float(np.mean(real)), 3),
                     "latent_distance": round(float(np.mean(dist)), 2), "seed_spread": round(float(spread), 1),
                     "seconds_per_sketch": round(seconds, 2), "options": opts})
        sheet.append(per_seed[0].images)
        print(rows[-1], flush=True)
    print(f"\nScribble study: {len(names)} sketches × {args.seeds} seeds, {args.steps} Adam steps per restart, "
          f"model {args.model} (CPU)")
    print("| setting | masked L2 ↓ | realism ↑ (0.5 ≈ real photo) | latent distance | seed spread (levels) | s / sketch |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['masked_l2']} | {r['realism']} | {r['latent_distance']} | {r['seed_spread']} | "
              f"{r['seconds_per_sketch']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"sketches": names, "steps": args.steps, "seeds": args.seeds, "rows": rows,
              "sheet_rows": [label for label, _ in chosen]}  # the contact sheet: the sketches, then these settings
    args.out.write_text(json.dumps(record, indent=2))
    grid = imaging.make_grid([im for row in sheet for im in row], nrow=len(names))
    grid.save(args.out.with_suffix(".png"))
    return record


if __name__ == "__main__":
    main()
