"""Build a GAN model's photo-distance reference and show what its figures mean.

    python -m bench.photo_distance [--model weights/stylegan2-cats64] [--cats ../shared/data/cats]

Embeds the held-out split of the cat photos (the file-name-hash split every trainer here uses, so the
discriminator never trained on them) in the model's discriminator features and writes the reference into the
model's folder (``photo_features.npz``, tied to the weights by their fingerprint), then prints the distance of
other sets to it: photos the discriminator trained on, its own samples, our DDPM's, blurred photos, Grumpy-Cat
photos, flat colour patches, noise, hand-drawn sketches and the simple canvas drawings. 1 ≈ a typical held-out
photo (each measured against the others); the table is what tells a user how far is far.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from engines import data as datasets
from engines import imaging
from engines.diffusion.engine import DiffusionEngine
from engines.evaluation.photo_distance import FILE_NAME, PhotoDistance
from engines.evaluation.swd import blurred, subset
from engines.stylegan.engine import GanEngine

from .realism import sketches


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=Path("weights/stylegan2-cats64"))
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--grumpy", type=Path, default=Path("../shared/data/grumpy"))
    p.add_argument("--sketches", type=Path, default=Path("../shared/data/sketches"))
    p.add_argument("--drawings", type=Path, default=Path("assets/examples/drawings"))
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--table", type=Path, default=Path("bench/results/photo_distance.json"))
    args = p.parse_args(argv)
    gan = GanEngine(str(args.model), device="cpu")
    if gan.bundle.D is None:
        raise SystemExit(f"{args.model} has no discriminator: the photo distance needs one.")
    res = gan.resolution
    heldout = datasets.to_float(datasets.load_split(args.cats, res, 0.05, "val"))
    D = gan.bundle.D.eval().requires_grad_(False)
    model = PhotoDistance.fit(heldout, D.features, gan.fingerprint)
    model.save(args.model / FILE_NAME)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        z = torch.randn(args.samples, gan.G.z_dim, generator=gen)
        samples_1, samples_07 = gan.G(z, truncation_psi=1.0), gan.G(z, truncation_psi=0.7)
    ddpm = DiffusionEngine("default", device="cpu")
    ddpm_samples = imaging.to_tensor(ddpm.sample(16, seed=0, steps=25, class_name="cat"))
    train = subset(datasets.to_float(datasets.load_split(args.cats, res, 0.05, "train")), args.samples, seed=0)
    sets = {
        "photos the discriminator trained on": train,
        "StyleGAN2 samples (ψ 1)": samples_1,
        "StyleGAN2 samples (ψ 0.7)": samples_07,
        "DDPM samples (DDIM 25)": ddpm_samples,
        "held-out photos, blurred twice": blurred(heldout[:100], 2),
        "Grumpy-Cat photos": subset(datasets.to_float(datasets.load_split(args.grumpy, res, 0.0, "all")), 100, seed=0),
        "flat colour patches": torch.ones(50, 3, res, res) * (torch.rand(50, 3, 1, 1, generator=gen) * 2 - 1),
        "uniform noise": torch.rand(20, 3, res, res, generator=gen) * 2 - 1,
        "hand-drawn sketches": sketches(args.sketches, res),
        "simple canvas drawings": sketches(args.drawings, res),
    }
    rows = [{"set": "held-out photos (each against the others: the unit)", "n": len(heldout), "median": 1.0}]
    for name, images in sets.items():
        d = model.distance(images)
        rows.append({"set": name, "n": len(images), "median": round(float(d.median()), 2),
                     "p10": round(float(d.quantile(0.1)), 2), "p90": round(float(d.quantile(0.9)), 2)})
    print(f"Photo distance of {args.model}: reference = {len(heldout)} held-out photos, written to "
          f"{args.model / FILE_NAME}")
    print("| set | n | median | 10th pct | 90th pct |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['n']} | {r['median']} | {r.get('p10', '–')} | {r.get('p90', '–')} |")
    args.table.parent.mkdir(parents=True, exist_ok=True)
    record = {"model": str(args.model), "reference": len(heldout), "k": model.k, "rows": rows}
    args.table.write_text(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
