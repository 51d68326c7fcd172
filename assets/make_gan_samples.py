"""Regenerate a GAN's sample grids and its colour-direction grid in ``assets/samples/``, so the model card and
README show what the shipped weights really give.

    python assets/make_gan_samples.py [--model weights/stylegan2-cats64] [--directions pale_coat dark_fur …]

Writes ``NAME-psi1.0.png`` and ``NAME-psi0.7.png`` (36 samples, seeds from one generator seeded 0: the same
images as ``python -m engines sample --model M --n 36 --seed 0 --truncation ψ``) and, with ``--directions``,
``NAME-directions.png``: one row per named direction, three samples (ψ 0.7, `GanEngine.random_latent` seeds
``--seeds``, default 1, 2, 3), each at strengths −3, −1.5, 0, 1.5, 3 through `GanEngine.edit` (what the Edit tab runs).
Deterministic on CPU. NAME is the model folder's name.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines import imaging  # noqa: E402
from engines.stylegan.engine import GanEngine  # noqa: E402

STRENGTHS = (-3.0, -1.5, 0.0, 1.5, 3.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(ROOT / "weights" / "stylegan2-cats64"))
    p.add_argument("--n", type=int, default=36, help="samples per grid")
    p.add_argument("--directions", nargs="*", default=[], metavar="NAME", help="named directions, one row each")
    p.add_argument("--seeds", nargs=3, type=int, default=[1, 2, 3], help="samples of the direction grid")
    p.add_argument("--out", default=str(ROOT / "assets" / "samples"))
    args = p.parse_args()
    engine = GanEngine(args.model, device="cpu")
    name = Path(args.model).name
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for psi in (1.0, 0.7):
        path = out / f"{name}-psi{psi:.1f}.png"
        imaging.make_grid(engine.sample(args.n, 0, truncation=psi), nrow=6).save(path)
        written.append(path)
    if args.directions:
        tiles = []
        for direction in args.directions:
            for seed in args.seeds:
                tiles += engine.edit(engine.random_latent(seed), direction, list(STRENGTHS)).images
        path = out / f"{name}-directions.png"
        imaging.make_grid(tiles, nrow=3 * len(STRENGTHS)).save(path)
        written.append(path)
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
