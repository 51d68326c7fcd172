"""How good is our diffusion model? Sample realism per sampler, whether guidance steers, the SDEdit trade-off.

    python -m bench.diffusion_quality [--model default] [--samples 2000] [--ddpm-samples 100] \
        [--cats ../shared/data/cats] [--grumpy ../shared/data/grumpy] [--sketches ../shared/data/sketches]

1. Realism: sliced Wasserstein distance (Laplacian-pyramid patches, ×1000) between "cat" samples and
   the held-out cat photos, for DDPM with all 1000 steps and DDIM with 50 / 25 / 10 steps. Every
   sample count gets its own real-vs-real floor (training photos vs the same validation photos, same
   count) from the same run, and each row is reported as a multiple of its floor.
2. Guidance: "grumpy cat" samples at guidance 1, 3, 7 — mean distance to the Grumpy-Cat validation
   photos (RMS pixels, and discriminator features of our StyleGAN2's D, LPIPS-style) should fall as
   the scale grows; "cat" samples at the same scales — their mean pairwise distance (diversity)
   next to that of real cat photos.
3. SDEdit on the sketches (no mask: the whole image is re-imagined), strengths 0.3 … 0.8: masked L2 to
   the strokes (faithfulness) and discriminator-feature distance to the nearest real photo (realism)
   per strength, as a table and a picture grid (rows: sketches, columns: the sketch, then strengths).

Writes ``bench/results/<name>.json`` and PNG grids beside it (``--out`` for another folder).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from engines import data as datasets
from engines import imaging
from engines.diffusion.engine import DiffusionEngine
from engines.diffusion.options import SDEditOptions
from engines.evaluation.features import FeatureDistance, pixel_rms_matrix
from engines.evaluation.swd import sliced_wasserstein, subset
from engines.stylegan.engine import GanEngine

SAMPLERS = (("ddpm", 1000), ("ddim", 50), ("ddim", 25), ("ddim", 10))
GUIDANCE_SCALES = (1.0, 3.0, 7.0)
STRENGTHS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def print_table(title: str, rows: list[dict], keys: Optional[list[str]] = None) -> None:
    keys = keys or list(rows[0])
    print(f"\n{title}\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


def generate(engine: DiffusionEngine, n: int, *, scheduler: str, steps: int, class_name: Optional[str],
             guidance: float, seed: int = 1, batch: Optional[int] = None) -> torch.Tensor:
    """``n`` samples as float [n, 3, R, R] in [-1, 1]; sample i uses seed + i (whatever the batch, which is at
    most the engine's limit on samples per job)."""
    batch = int(SDEditOptions.limit("n").max) if batch is None else batch
    out = []
    for start in range(0, n, batch):
        images = engine.sample(min(batch, n - start), seed + start, steps=steps, scheduler=scheduler,
                               guidance=guidance, class_name=class_name)
        out.append(imaging.to_tensor(images))
    return torch.cat(out)


def mean_pairwise(d: torch.Tensor) -> float:
    """Mean off-diagonal entry of a square distance matrix (the diversity of one set)."""
    n = d.shape[0]
    return float((d.sum() - d.diagonal().sum()) / max(n * (n - 1), 1))


# ------------------------------------------------------------------------------------------ studies
def realism(engine: DiffusionEngine, train: torch.Tensor, val: torch.Tensor, samples: int, ddpm_samples: int,
            guidance: float, patches: int, samplers: Sequence[tuple[str, int]]) -> tuple[list[dict], torch.Tensor]:
    rows, floors, first = [], {}, None
    for scheduler, steps in samplers:
        n = ddpm_samples if scheduler == "ddpm" else samples
        if n not in floors:
            t0 = time.perf_counter()
            swd = sliced_wasserstein(subset(train, n, seed=11), val, patches=patches)
            floors[n] = swd["avg"]
            rows.append({"set": f"real photos (train split), n={n} — floor", "n": n, **_rounded(swd),
                         "× floor": 1.0, "s/img": "", "seconds": round(time.perf_counter() - t0, 1)})
        t0 = time.perf_counter()
        images = generate(engine, n, scheduler=scheduler, steps=steps, class_name="cat", guidance=guidance)
        seconds = time.perf_counter() - t0
        first = images if first is None else first
        swd = sliced_wasserstein(images, val, patches=patches)
        rows.append({"set": f"{scheduler.upper()} {steps} steps, guidance {guidance:g}", "n": n, **_rounded(swd),
                     "× floor": round(swd["avg"] / floors[n], 2), "s/img": round(seconds / n, 3),
                     "seconds": round(seconds, 1)})
        print(f"  {rows[-1]['set']}: SWD {rows[-1]['avg']} ({rows[-1]['× floor']}× floor), {seconds:.0f} s", flush=True)
    return rows, first


def guidance_study(engine: DiffusionEngine, grumpy_val: torch.Tensor, cat_val: torch.Tensor, dist: FeatureDistance,
                   n: int, steps: int, scales: Sequence[float]) -> tuple[list[dict], list[Image.Image]]:
    rows, grid = [], []
    real_div = mean_pairwise(dist.matrix(subset(cat_val, n, seed=2), subset(cat_val, n, seed=2)))
    for class_name in ("grumpy cat", "cat"):
        for scale in scales:
            t0 = time.perf_counter()
            images = generate(engine, n, scheduler="ddim", steps=steps, class_name=class_name, guidance=scale, seed=100)
            seconds = time.perf_counter() - t0
            grid += imaging.to_pil(images[:8])
            row: dict[str, Any] = {"class": class_name, "guidance": scale, "n": n}
            if class_name == "grumpy cat":
                row["rms to grumpy val (mean)"] = round(float(pixel_rms_matrix(images, grumpy_val).mean()), 4)
                row["feature dist to grumpy val (mean)"] = round(float(dist.matrix(images, grumpy_val).mean()), 4)
                row["feature dist to nearest grumpy val"] = round(float(dist.matrix(images, grumpy_val).min(1).values.mean()), 4)
            else:
                row["diversity (mean pairwise feature dist)"] = round(mean_pairwise(dist.matrix(images, images)), 4)
                row["real cat diversity"] = round(real_div, 4)
                row["diversity rms pixels"] = round(mean_pairwise(pixel_rms_matrix(images, images)), 4)
            row["s/img"] = round(seconds / n, 3)
            rows.append(row)
            print(f"  {class_name} guidance {scale:g}: {row}", flush=True)
    return rows, grid


def load_sketches(folder: Path, size: int = 64) -> list[tuple[str, Image.Image, np.ndarray]]:
    """(name, sketch at ``size`` px, stroke mask) for each sketch: the RGBA ones (alpha = strokes) and
    the 512 px filled sketch on white (strokes = not white)."""
    items = []
    for path in sorted((folder / "rgba_64").glob("*.png")) + sorted(folder.glob("*sketch*.png")):
        rgba = imaging.load_rgba(path)
        mask = imaging.mask_from_scribble(rgba)
        rgb = imaging.load_image(path, composite_on="black" if (np.asarray(rgba)[..., 3] < 255).any() else "white")
        items.append((path.stem, imaging.center_crop_resize(rgb, size), _resize_mask(mask, size)))
    return items


def _resize_mask(m: np.ndarray, size: int) -> np.ndarray:
    h, w = m.shape
    s = min(h, w)
    m = m[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return (np.asarray(Image.fromarray(m.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)) > 0.5
            ).astype(np.float32)


def sdedit_study(engine: DiffusionEngine, sketches, real: torch.Tensor, dist: FeatureDistance, strengths: Sequence[float],
                 seeds: int, steps: int, class_name: str, guidance: float) -> tuple[list[dict], list[Image.Image]]:
    from engines.diffusion.guide import faithfulness
    rows, grid = [], []
    per_strength: dict[float, dict[str, list[float]]] = {s: {"ml2": [], "real": [], "sec": []} for s in strengths}
    for name, sketch, mask in sketches:
        grid.append(sketch)
        for s in strengths:
            t0 = time.perf_counter()
            result = engine.from_guide(sketch, None, seed=0, steps=steps, strength=s, scheduler="ddim",
                                       class_name=class_name, guidance=guidance, n=seeds, frames=0)
            per_strength[s]["sec"].append((time.perf_counter() - t0) / seeds)
            per_strength[s]["ml2"] += faithfulness(result.images, sketch, mask)["masked_l2"]
            per_strength[s]["real"] += dist.matrix(imaging.to_tensor(result.images), real).min(1).values.tolist()
            grid.append(result.images[0])
    for s in strengths:
        v = per_strength[s]
        rows.append({"strength": s, "t0 (of 1000)": int(round(s * 1000)), "images": len(v["ml2"]),
                     "masked L2 to strokes": round(statistics.mean(v["ml2"]), 4),
                     "feature dist to nearest real": round(statistics.mean(v["real"]), 4),
                     "s/img": round(statistics.mean(v["sec"]), 3)})
    return rows, grid


def _rounded(swd: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in swd.items()}


# ------------------------------------------------------------------------------------------ main
def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default", help="diffusion source (a pixel-space class model)")
    p.add_argument("--gan", default="default", help="GAN whose discriminator gives feature distances ('' = pixels)")
    p.add_argument("--cats", default="../shared/data/cats")
    p.add_argument("--grumpy", default="../shared/data/grumpy")
    p.add_argument("--sketches", default="../shared/data/sketches")
    p.add_argument("--samples", type=int, default=2000, help="samples per DDIM row")
    p.add_argument("--ddpm-samples", type=int, default=100, help="samples for the 1000-step DDPM row")
    p.add_argument("--guidance", type=float, default=1.0, help="guidance scale of the realism rows")
    p.add_argument("--guidance-samples", type=int, default=64)
    p.add_argument("--sdedit-seeds", type=int, default=4)
    p.add_argument("--patches", type=int, default=16384, help="patches per pyramid level and set")
    p.add_argument("--samplers", default=",".join(f"{s}:{n}" for s, n in SAMPLERS),
                   help="realism rows as scheduler:steps, comma-separated")
    p.add_argument("--skip", nargs="*", default=[], choices=["realism", "guidance", "sdedit"])
    p.add_argument("--device", default="auto")
    p.add_argument("--out", default="bench/results")
    p.add_argument("--name", default="diffusion_quality")
    args = p.parse_args(argv)

    start = time.perf_counter()
    engine = DiffusionEngine(args.model, device=args.device)
    res = engine.resolution
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    cat_train = datasets.to_float(datasets.load_split(args.cats, res, 0.05, "train"))
    cat_val = datasets.to_float(datasets.load_split(args.cats, res, 0.05, "val"))
    grumpy_val = datasets.to_float(datasets.load_split(args.grumpy, res, 0.1, "val"))
    dist = GanEngine(args.gan, device="cpu").feature_distance(res) if args.gan else FeatureDistance(None)
    samplers = [(s.split(":")[0], int(s.split(":")[1])) for s in args.samplers.split(",") if s]
    print(f"model {args.model} ({engine.describe().parameters / 1e6:.2f} M parameters) on {engine.device}; "
          f"cats {len(cat_train)} train / {len(cat_val)} val; grumpy {len(grumpy_val)} val; distances: {dist.name}")
    record: dict[str, Any] = {"model": args.model, "cats_val": len(cat_val), "grumpy_val": len(grumpy_val),
                              "feature_distance": dist.name}

    if "realism" not in args.skip:
        rows, first = realism(engine, cat_train, cat_val, args.samples, args.ddpm_samples, args.guidance,
                              args.patches, samplers)
        keys = ["set", "n"] + [k for k in rows[0] if k not in ("set", "n", "× floor", "s/img", "seconds")]
        print_table(f"Realism: SWD ×1000 of 'cat' samples to {len(cat_val)} validation photos (lower is better)",
                    rows, keys + ["× floor", "s/img", "seconds"])
        imaging.make_grid(imaging.to_pil(first[:64]), nrow=8).save(out_dir / f"{args.name}_samples.png")
        record["realism"] = rows
    if "guidance" not in args.skip:
        rows, grid = guidance_study(engine, grumpy_val, cat_val, dist, args.guidance_samples, 25, GUIDANCE_SCALES)
        print_table("Guidance (DDIM 25): grumpy samples should approach the Grumpy-Cat photos as the scale grows; "
                    "cat samples should stay diverse", rows)
        imaging.make_grid(grid, nrow=8).save(out_dir / f"{args.name}_guidance.png")
        record["guidance"] = rows
    if "sdedit" not in args.skip:
        sketches = load_sketches(Path(args.sketches), res)
        real = torch.cat([subset(cat_val, 200, seed=4), grumpy_val])
        rows, grid = sdedit_study(engine, sketches, real, dist, STRENGTHS, args.sdedit_seeds, 50,
                                  "grumpy cat", engine.default_guidance)
        print_table(f"SDEdit on {len(sketches)} sketches (DDIM 50, 'grumpy cat', guidance {engine.default_guidance:g}, "
                    f"{args.sdedit_seeds} seeds): faithfulness vs realism", rows)
        imaging.make_grid(grid, nrow=len(STRENGTHS) + 1).save(out_dir / f"{args.name}_sdedit.png")
        record["sdedit"] = {"sketches": [s[0] for s in sketches], "rows": rows}
    record["seconds"] = round(time.perf_counter() - start, 1)
    record["machine"] = {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
                         "threads": torch.get_num_threads(), "device": str(engine.device)}
    path = out_dir / f"{args.name}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {path} ({record['seconds']:.0f} s)")
    return record


if __name__ == "__main__":
    main()
