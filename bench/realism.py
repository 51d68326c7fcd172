"""Fit the realism statistics on real photos and show what they score.

    python -m bench.realism [--cats ../shared/data/cats] [--out weights/realism-cats64.npz]

Fits `engines.evaluation.realism.PatchRealism` on the training split of the cat photos (the same
file-name-hash split every trainer here uses) and calibrates it on the held-out split, then prints the
score of held-out photos, samples of our default GAN and DDPM, blurred photos, flat colour patches, noise
and the hand-drawn sketches: the table that says what a realism score means. Writes the statistics
file and a JSON of the table next to the other results.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from engines import data as datasets
from engines import imaging
from engines.diffusion.engine import DiffusionEngine
from engines.evaluation.realism import PatchRealism
from engines.evaluation.swd import blurred, subset
from engines.stylegan.engine import GanEngine


def sketches(folder: Path, resolution: int) -> torch.Tensor:
    files = sorted(p for p in folder.glob("*.png") if not p.stem.endswith("_mask"))
    return torch.cat([imaging.to_tensor(imaging.center_crop_resize(imaging.load_image(f), resolution)) for f in files])


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--sketches", type=Path, default=Path("../shared/data/sketches"))
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--train-images", type=int, default=2048, help="training photos the statistics are fitted on")
    p.add_argument("--samples", type=int, default=100, help="samples per generator in the table")
    p.add_argument("--out", type=Path, default=Path("weights/realism-cats64.npz"))
    p.add_argument("--table", type=Path, default=Path("bench/results/realism.json"))
    args = p.parse_args(argv)
    res = args.resolution
    train = subset(datasets.to_float(datasets.load_split(args.cats, res, 0.05, "train")), args.train_images, seed=0)
    heldout = datasets.to_float(datasets.load_split(args.cats, res, 0.05, "val"))
    model = PatchRealism.fit(train, heldout)
    model.save(args.out)
    gen = torch.Generator().manual_seed(0)
    gan = GanEngine("default", device="cpu")
    with torch.no_grad():
        gan_samples = gan.G(torch.randn(args.samples, gan.G.z_dim, generator=gen), truncation_psi=0.7)
    ddpm = DiffusionEngine("default", device="cpu")
    ddpm_samples = imaging.to_tensor(ddpm.sample(min(args.samples, 16), seed=0, steps=25, class_name="cat"))
    sets = {
        "held-out photos (calibration)": heldout,
        "StyleGAN2 samples (ψ 0.7)": gan_samples,
        "DDPM samples (DDIM 25)": ddpm_samples,
        "held-out photos, blurred twice": blurred(heldout[:100], 2),
        "flat colour patches": torch.ones(50, 3, res, res) * (torch.rand(50, 3, 1, 1, generator=gen) * 2 - 1),
        "uniform noise": torch.rand(20, 3, res, res, generator=gen) * 2 - 1,
        "hand-drawn sketches": sketches(args.sketches, res),
    }
    rows = []
    for name, images in sets.items():
        score = model.score(images)
        rows.append({"set": name, "n": len(images), "realism_mean": round(float(score.mean()), 3),
                     "realism_median": round(float(score.median()), 3),
                     "patch_distance_median": round(float(model.distance(images).median()), 3)})
    print(f"Realism statistics fitted on {len(train)} training photos, calibrated on {len(heldout)} held-out photos; "
          f"written to {args.out}")
    print("| set | n | realism (mean) | realism (median) | patch distance (median) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['n']} | {r['realism_mean']} | {r['realism_median']} | {r['patch_distance_median']} |")
    args.table.parent.mkdir(parents=True, exist_ok=True)
    record = {"fitted_on": len(train), "calibrated_on": len(heldout), "rows": rows}
    args.table.write_text(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
