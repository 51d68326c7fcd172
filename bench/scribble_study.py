"""Which scribble settings stay on the manifold: latent space × regulariser × restarts, on real sketches.

    python -m bench.scribble_study [--steps 150] [--seeds 2] [--out bench/results/scribble_study.json]

Runs the GAN's scribble projection (all sketches as one batch, each with its own stroke mask) on the
project's example sketches (``assets/examples/sketches``), the simple canvas drawings (``assets/examples/drawings``)
and the hand-drawn ones in ``../shared/data/sketches``, for each setting and seed, and reports the share of results
in which OpenCV's cat-face detector finds a face (`evaluation.cat_faces`: what a person sees), faithfulness (masked
L2 of the 16×16 colour layout and of every pixel, lower = closer) beside the patch realism (`evaluation.realism`),
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
_LAYOUT = dict(follow_lines=0.0, **_LATENT_ONLY)
SETTINGS = [  # (label, options over the scribble defaults: w+, 3 random starts, no perceptual term, reg to the mean)
    ("every pixel, reg 0.03, noise maps (the first default)",
     dict(follow_lines=1.0, reg=0.03, optimize_noise=True, noise_reg=200.0)),
    ("16×16 layout, reg 0.03", dict(reg=0.03, **_LAYOUT)),
    ("16×16 layout, reg 0.1 (the previous default)", dict(reg=0.1, **_LAYOUT)),
    ("16×16 layout, reg 0.3", dict(reg=0.3, **_LAYOUT)),
    ("32×32 (follow the lines 0.5), reg 0.1", dict(follow_lines=0.5, reg=0.1, optimize_noise=False)),
    ("16×16 layout, reg 1.0 (the default)", dict(reg=1.0, **_LAYOUT)),
    ("16×16 layout, one w for all layers, reg 0.1", dict(space="w", reg=0.1, **_LAYOUT)),
    ("16×16 layout, reg 1.0 toward each restart's random start (not the mean)", dict(reg=1.0, reg_to="init", **_LAYOUT)),
]


def example_sketches(engine: GanEngine, assets: Path, shared: Path, drawings: Path | None = None
                     ) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    names, targets, masks = [], [], []
    for path in sorted(assets.glob("*.png")) + (sorted(drawings.glob("*.png")) if drawings is not None else []):
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
    p.add_argument("--drawings", type=Path, default=Path("assets/examples/drawings"),
                   help="simple canvas drawings in the app's palette (assets/make_examples.py)")
    p.add_argument("--out", type=Path, default=Path("bench/results/scribble_study.json"))
    p.add_argument("--only", nargs="+", metavar="TEXT",
                   help="run only the settings whose label contains one of these; the other rows are kept from --out "
                        "(the contact sheet then shows the settings run)")
    args = p.parse_args(argv)
    engine = GanEngine(args.model, device="cpu")
    names, targets, masks = example_sketches(engine, args.assets, args.sketches, args.drawings)
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
        lay = [v for r in per_seed for v in r.metrics["layout_l2"]]
        face = [v for r in per_seed for v in r.metrics["holds_face"]]
        photo = [v for r in per_seed for v in r.metrics.get("photo_distance", [])]
        real = [v for r in per_seed for v in r.metrics["realism"]]
        dist = [v for r in per_seed for v in r.metrics["latent_distance"]]
        rows.append({"setting": label, "cat_face_share": round(float(np.mean(face)), 2),
                     "photo_distance": round(float(np.median(photo)), 2) if photo else None,
                     "layout_l2": round(float(np.mean(lay)), 4), "masked_l2": round(float(np.mean(ml2)), 4), "realism": round(float(np.mean(real)), 3),
                     "latent_distance": round(float(np.mean(dist)), 2), "seed_spread": round(float(spread), 1),
                     "seconds_per_sketch": round(seconds, 2), "options": opts})
        sheet.append(per_seed[0].images)
        print(rows[-1], flush=True)
    print(f"\nScribble study: {len(names)} sketches × {args.seeds} seeds, {args.steps} Adam steps per restart, "
          f"model {args.model} (CPU)")
    print("| setting | cat face found ↑ | distance to photos (median; 1 ≈ a photo) ↓ | layout L2 ↓ | "
          "masked L2 (every pixel) ↓ | patch realism | latent distance | seed spread (levels) | s / sketch |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['setting']} | {r.get('cat_face_share', '–')} | {r.get('photo_distance') or '–'} | "
              f"{r.get('layout_l2', '–')} | {r['masked_l2']} | "
              f"{r['realism']} | {r['latent_distance']} | {r['seed_spread']} | {r['seconds_per_sketch']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"sketches": names, "steps": args.steps, "seeds": args.seeds, "rows": rows,
              "sheet_rows": [label for label, _ in chosen]}  # the contact sheet: the sketches, then these settings
    args.out.write_text(json.dumps(record, indent=2))
    grid = imaging.make_grid([im for row in sheet for im in row], nrow=len(names))
    grid.save(args.out.with_suffix(".png"))
    return record


if __name__ == "__main__":
    main()
