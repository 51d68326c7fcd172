"""Regenerate ``assets/samples/ddpm-cats64-*.png``: sample grids of our diffusion model per class and
guidance scale, so the model card and README show what the shipped weights really give.

    python assets/make_diffusion_samples.py [--model weights/ddpm-cats64] [--n 16] [--steps 50]

Each grid is one class ("cat", "grumpy cat") at one classifier-free guidance scale, DDIM, seeds 0…n-1
(the same seeds in every grid, so the grids differ only by class and scale). Deterministic on CPU.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engines import imaging  # noqa: E402
from engines.diffusion.engine import DiffusionEngine  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--n", type=int, default=8, help="samples per grid")
    p.add_argument("--steps", type=int, default=50, help="DDIM steps")
    p.add_argument("--scales", default="1,3,7", help="guidance scales, comma-separated")
    p.add_argument("--out", default=str(ROOT / "assets" / "samples"))
    args = p.parse_args()
    engine = DiffusionEngine(args.model, device="cpu")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for class_name in engine.classes:
        for scale in (float(s) for s in args.scales.split(",")):
            images = engine.sample(args.n, seed=0, steps=args.steps, guidance=scale, class_name=class_name)
            path = out / f"ddpm-cats64-{class_name.replace(' ', '_')}-g{scale:g}.png"
            imaging.make_grid(images, nrow=8).save(path)
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
