"""``python -m engines sample``: draw images from a GAN."""
from __future__ import annotations

import argparse

from .common import add_command, add_gan_flags, add_out_flag, gan_engine, positive_int, tqdm_progress, write_images


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "sample", """
        Draw N images from a GAN with a seed. The same seed gives the same images.""", run)
    add_gan_flags(p)
    p.add_argument("--n", type=positive_int, default=16, help="number of images, 1-1024 (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--truncation", type=float, default=1.0,
                   help="truncation psi in [0, 2]: < 1 gives more typical, less varied images (default: 1.0)")
    p.add_argument("--noise-mode", choices=["const", "random", "none"], default="const",
                   help="StyleGAN2 per-pixel noise: the model's fixed maps, fresh random ones, or none (default: const)")
    add_out_flag(p, "a .png path for one grid image, otherwise a folder that gets one PNG per sample")


def run(args: argparse.Namespace) -> int:
    engine = gan_engine(args)
    progress, bar = tqdm_progress("sampling")
    with bar:
        images = engine.sample(args.n, args.seed, truncation=args.truncation, noise_mode=args.noise_mode,
                               progress=progress)
    paths = write_images(images, args.out)
    print(f"wrote {len(images)} image(s) to {args.out if len(paths) > 1 else paths[0]}")
    return 0
