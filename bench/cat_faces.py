"""Calibrate the cat-face measure (`engines.evaluation.cat_faces`): how often it finds a face where there is one.

    python -m bench.cat_faces [--photos 446] [--samples 500] [--out bench/results/cat_faces.json]

The share of images in which OpenCV's cat-face cascade finds a confident face covering the image, at the models'
64 px: held-out cat photos (the data split the models never trained on), the default StyleGAN2's samples at ψ 1 and
0.7, and the hand-drawn sketches and our example drawings (which should have none). The measure is meant to be
high for the first three and zero for the last.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engines import imaging
from engines.data import list_images, split
from engines.evaluation import cat_faces
from engines.stylegan.engine import GanEngine

from .scribble_study import example_sketches


def _row(name: str, images: torch.Tensor) -> dict:
    conf = cat_faces.confidence(images)
    found = conf >= cat_faces.MIN_CONFIDENCE
    return {"set": name, "n": len(images), "face_share": round(float(found.float().mean()), 3),
            "median_confidence": round(float(conf.median()), 2)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--photos", type=int, default=446)
    p.add_argument("--samples", type=int, default=500)
    p.add_argument("--out", type=Path, default=Path("bench/results/cat_faces.json"))
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    engine = GanEngine("default", device="cpu")
    rows = []
    _, val = split(list_images(args.data))
    photos = [imaging.center_crop_resize(Image.open(f).convert("RGB"), engine.resolution) for f in val[:args.photos]]
    rows.append(_row("held-out cat photos", imaging.to_tensor(photos)))
    for psi in (1.0, 0.7):
        rows.append(_row(f"StyleGAN2 samples, ψ {psi}", imaging.to_tensor(engine.sample(args.samples, 0, truncation=psi))))
    for name, assets, shared in (("sketches (our 6 examples, 7 hand-drawn)", "assets/examples/sketches",
                                  "../shared/data/sketches"),
                                 ("simple canvas drawings (assets/examples/drawings)", "assets/examples/drawings", "-")):
        _, targets, masks = example_sketches(engine, Path(assets), Path(shared))
        on_white = torch.where(masks > 0, targets, torch.ones_like(targets))  # as drawn; off the strokes white
        rows.append(_row(name, on_white))
    print("| set | n | cat face found | median confidence |\n|---|---|---|---|")
    for r in rows:
        print(f"| {r['set']} | {r['n']} | {r['face_share']:.2f} | {r['median_confidence']} |")
    record = {"min_confidence": cat_faces.MIN_CONFIDENCE, "min_box": cat_faces.MIN_BOX, "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
