"""Does a named direction keep the rest of the cat? Identity numbers for edits of held-out photos.

    python -m bench.direction_identity --model weights/stylegan2-cats64 [--names grumpy age eyes_open] [--photos 16]

Held-out (validation-split) cat photos that no label file names are inverted into w; each is rebuilt
(x0 = G(w)) and edited by every named direction at ± its default strength (x± = G(w ± s·d), on the w+
rows the direction names, else all). Per direction:

* ``feature_ratio``: the LPIPS-style distance in the discriminator's features (`FeatureDistance`)
  between x0 and x±, divided by the mean distance between the rebuilt photos of two *different* cats.
  Below 1 the edit moves a cat less than swapping it for another cat; near 0 it changes little.
* ``reidentified``: the share of edited images whose nearest rebuilt photo (same features) is their own
  original, among all the photos: the edit keeps the cat recognisable among the others.
* ``psnr``: PSNR of x± against x0 over the whole image (the edit is a whole-face attribute, so this is
  a lower bound on PSNR outside the attribute); ``psnr_between_cats`` is the same for two different cats.

Writes ``bench/results/named_directions_identity.json``, adds an ``identity`` entry to each direction's
``named_directions_NAME.json`` where it exists, and a figure (photo, rebuilt, −s, +s for each direction).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from engines import data as datasets
from engines import imaging
from engines.evaluation.swd import subset
from engines.stylegan import editing
from engines.stylegan.directions import apply
from engines.stylegan.engine import GanEngine

from .named_directions import LABELS, invert_w, read_labels


def psnr(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """[N] PSNR in dB of images in [-1, 1] (peak-to-peak 2)."""
    mse = (a - b).square().flatten(1).mean(1).clamp_min(1e-10)
    return 10 * torch.log10(4 / mse)


def heldout_photos(cats: Path, labels: Path, n: int, res: int) -> tuple[list[str], torch.Tensor]:
    """``n`` validation-split photos that no label file names (fixed choice)."""
    named = {f for path in labels.glob("*.txt") for split in read_labels(path).values() for f in split}
    files = [f for f in datasets.split(datasets.list_images(cats), 0.05)[1] if f.name not in named]
    idx = subset(torch.arange(len(files)), n, seed=0).tolist()
    chosen = [files[i] for i in idx]
    return [f.name for f in chosen], datasets.to_float(datasets.load_images(chosen, res))


@torch.no_grad()
def identity(engine: GanEngine, w: torch.Tensor, x0: torch.Tensor, direction, strength: float) -> dict:
    dist = engine.feature_distance()
    pool = dist.features(x0)
    between = dist.matrix(x0, pool)
    off = ~torch.eye(len(x0), dtype=torch.bool)
    psnr_between = torch.stack([psnr(x0[i:i + 1].expand_as(x0), x0)[off[i]].mean() for i in range(len(x0))]).mean()
    out = {"strength": strength, "feature_between_cats": round(float(between[off].mean()), 4),
           "psnr_between_cats": round(float(psnr_between), 2)}
    for sign, s in (("minus", -strength), ("plus", strength)):
        edited = engine.G.synthesize(apply(w, direction, s), "w+")
        d = dist.matrix(edited, pool)
        own = d.diagonal()
        out[sign] = {"feature_distance": round(float(own.mean()), 4),
                     "feature_ratio": round(float(own.mean() / between[off].mean()), 3),
                     "reidentified": round(float((d.argmin(1) == torch.arange(len(x0))).float().mean()), 3),
                     "psnr": round(float(psnr(edited, x0).mean()), 2)}
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="weights/stylegan2-cats64")
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--names", nargs="+", default=["grumpy", "age", "eyes_open"])
    p.add_argument("--photos", type=int, default=16)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--results", type=Path, default=Path("bench/results"))
    p.add_argument("--figures", type=Path, default=Path("assets/samples"))
    args = p.parse_args(argv)
    torch.manual_seed(0)
    engine = GanEngine(args.model, device="cpu")
    names, photos = heldout_photos(args.cats, args.labels, args.photos, engine.resolution)
    w = engine.G.to_wplus(invert_w(engine, photos, args.steps), "w")  # w+ rows: some directions edit a row range
    with torch.no_grad():
        x0 = engine.G.synthesize(w, "w+")
    record = {"model": args.model, "photos": names, "inversion_steps": args.steps,
              "inversion_psnr": round(float(psnr(x0, photos).mean()), 2), "directions": {}}
    columns = [photos[:6], x0[:6]]
    for name in args.names:
        direction = editing.load_direction(name, engine)
        strength = float(direction.meta.get("default_strength", 3.0))
        record["directions"][name] = identity(engine, w, x0, direction, strength)
        with torch.no_grad():
            columns += [engine.G.synthesize(apply(w[:6], direction, s), "w+") for s in (-strength, strength)]
        own = args.results / f"named_directions_{name}.json"
        if own.is_file():
            kept = json.loads(own.read_text())
            kept["identity"] = record["directions"][name] | {"photos": len(names)}
            own.write_text(json.dumps(kept, indent=2))
    figure = imaging.make_grid([im for row in zip(*[imaging.to_pil(c) for c in columns]) for im in row],
                               nrow=len(columns))
    args.figures.mkdir(parents=True, exist_ok=True)
    path = args.figures / f"{Path(args.model).name}-directions-photos.png"
    figure.save(path)
    record["figure"] = str(path)
    record["figure_columns"] = "held-out photo, rebuilt from w, then for each of " + ", ".join(args.names) + ": -s, +s"
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "named_directions_identity.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
