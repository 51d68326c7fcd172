"""Directions that mean something, from labelled photos (InterFaceGAN), checked on held-out photos.

    python -m bench.named_directions --model weights/stylegan2-cats64 [--per-class 160] [--steps 100]

``grumpy``: Grumpy-Cat photos (``../shared/data/grumpy``) against other cats (``../shared/data/cats``),
both from the training split, inverted into w, separated by a linear boundary
(`directions.from_examples`). The held-out split of both sets is inverted too and the boundary's
accuracy on it is reported, so the direction is known to mean "grumpy" beyond its training examples.
The default strength is the largest of 1…6 whose edited samples keep realism ≥ 0.3 (a flat patch scores
0, real photos 0.5) on average. Writes ``<model>/directions/grumpy.npz`` (with that default strength in
its meta), a figure of samples edited from −s to +s, and a JSON record.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from engines import data as datasets
from engines import imaging
from engines.evaluation.realism import PatchRealism
from engines.evaluation.swd import subset
from engines.stylegan import editing
from engines.stylegan.directions import apply, from_examples
from engines.stylegan.engine import GanEngine


def invert_w(engine: GanEngine, photos: torch.Tensor, steps: int) -> torch.Tensor:
    result = engine.invert(imaging.to_pil(photos), space="w", steps=steps, perceptual="disc", frames=0)
    return torch.as_tensor(np.asarray(result.latents["latent"]))


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="weights/stylegan2-cats64")
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--grumpy", type=Path, default=Path("../shared/data/grumpy"))
    p.add_argument("--per-class", type=int, default=160)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--results", type=Path, default=Path("bench/results"))
    args = p.parse_args(argv)
    engine = GanEngine(args.model, device="cpu")
    res = engine.resolution
    load = lambda folder, frac, split: datasets.to_float(datasets.load_split(folder, res, frac, split))  # noqa: E731
    grumpy_train, grumpy_val = load(args.grumpy, 0.1, "train"), load(args.grumpy, 0.1, "val")
    cat_train = subset(load(args.cats, 0.05, "train"), args.per_class, seed=0)
    cat_val = subset(load(args.cats, 0.05, "val"), len(grumpy_val) * 2, seed=0)
    pos, neg = invert_w(engine, grumpy_train[:args.per_class], args.steps), invert_w(engine, cat_train, args.steps)
    d = from_examples(pos, neg, "grumpy", space="w", fingerprint=engine.fingerprint)
    vpos, vneg = invert_w(engine, grumpy_val, args.steps), invert_w(engine, cat_val, args.steps)
    v = torch.as_tensor(d.vector, dtype=torch.float32)
    centre = ((pos @ v).mean() + (neg @ v).mean()) / 2  # midway between the two training classes
    held_acc = float(torch.cat([(vpos @ v) > centre, (vneg @ v) <= centre]).float().mean())

    realism = PatchRealism.default()
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        w = engine.G.mapping(torch.randn(8, engine.G.z_dim, generator=gen), truncation_psi=0.7)[:, 0]
        chosen, table = 1.0, []
        for s in (1.0, 2.0, 3.0, 4.0, 6.0):
            imgs = engine.G.synthesize(apply(w, d, s), "w")
            score = float(realism.score(imgs).mean()) if realism is not None else 1.0
            table.append({"strength": s, "realism": round(score, 3)})
            if score >= 0.3:
                chosen = s
        strip = [engine.G.synthesize(apply(w[:4], d, s), "w") for s in (-chosen, -chosen / 2, 0.0, chosen / 2, chosen)]
    d.meta.update(default_strength=chosen, heldout_accuracy=round(held_acc, 3), n_pos=len(pos), n_neg=len(neg),
                  heldout=[len(vpos), len(vneg)], inversion_steps=args.steps,
                  description="towards Grumpy Cat's face: down-turned mouth, pale face with a dark mask")
    folder = Path(args.model) / "directions"
    path = editing.save_direction(d, folder)
    figure = imaging.make_grid([im for t in zip(*[imaging.to_pil(x) for x in strip]) for im in t], nrow=5)
    name = Path(args.model).name
    args.results.mkdir(parents=True, exist_ok=True)
    figure.save(args.results / f"directions_{name}_grumpy.png")
    record = {"model": args.model, "direction": str(path), "train_accuracy": d.meta["train_accuracy"],
              "heldout_accuracy": held_acc, "default_strength": chosen, "realism_by_strength": table}
    (args.results / f"directions_{name}_grumpy.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
