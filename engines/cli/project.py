"""``python -m engines invert`` and ``scribble``: projection of photos and colour sketches."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..stylegan.latents import save_latents
from ..stylegan.losses import PERCEPTUAL_CHOICES
from .common import add_gan_flags, gan_engine, positive_int, tqdm_progress, write_json


def _common(p: argparse.ArgumentParser, steps: int, perceptual: str) -> None:
    add_gan_flags(p)
    p.add_argument("--space", choices=["z", "w", "w+"], default="w+",
                   help="latent space: z (through the mapping), w (one code) or w+ (one code per layer; DCGAN: z only) (default: w+)")
    p.add_argument("--optimizer", choices=["adam", "lbfgs"], default="adam", help="Adam with lr ramp, or L-BFGS with strong-Wolfe line search (default: adam)")
    p.add_argument("--steps", type=positive_int, default=steps, help=f"optimisation steps per restart, 1-10000 (default: {steps})")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.1 for Adam, 1.0 for L-BFGS)")
    p.add_argument("--init", choices=["mean", "random"], default="mean", help="start from the mean latent or a random one (default: mean)")
    p.add_argument("--restarts", type=positive_int, default=1, help="independent runs with seeds seed, seed+1, …, 1-50; the best is kept (default: 1)")
    p.add_argument("--perceptual", choices=list(PERCEPTUAL_CHOICES), default=perceptual,
                   help=f"perceptual network: disc (our discriminator, offline), vgg16 (torchvision weights), lpips, none (default: {perceptual})")
    p.add_argument("--perceptual-weight", type=float, default=None, help="weight of the perceptual term")
    p.add_argument("--l1", type=float, default=None, help="weight of the L1 pixel term")
    p.add_argument("--l2", type=float, default=None, help="weight of the L2 pixel term")
    p.add_argument("--reg", type=float, default=None, help="weight of the latent regulariser mean((latent − anchor)²)")
    p.add_argument("--optimize-noise", action="store_true", help="also optimise StyleGAN2 noise maps (with the StyleGAN2 noise regulariser)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invert", help="project photos into the GAN's latent space",
                       description="Invert photos into z / w / w+ by optimisation. Writes a reconstruction PNG and a "
                                   "latent .npz per image and metrics.json (psnr, ssim, perceptual, seconds, steps).")
    p.add_argument("images", nargs="+", type=Path, help="photos (centre-cropped and resized to the model resolution)")
    _common(p, steps=300, perceptual="disc")
    p.add_argument("--batch", type=positive_int, default=8, help="images optimised together (default: 8)")
    p.set_defaults(run=run_invert)

    s = sub.add_parser("scribble", help="turn a colour scribble into a realistic image",
                       description="Masked projection: an image from the GAN that matches the sketch's strokes. The mask "
                                   "comes from --mask (white = strokes) or from the sketch (alpha, or non-background pixels).")
    s.add_argument("sketch", type=Path, help="colour sketch (PNG; alpha or a plain background marks what is not drawn)")
    s.add_argument("--mask", type=Path, default=None, help="mask image: white = strokes to match (default: from the sketch)")
    s.add_argument("--dilate", type=int, default=0, help="grow the derived mask by this many pixels, 0-256 (default: 0)")
    _common(s, steps=300, perceptual="none")
    s.set_defaults(run=run_scribble)


def _loss_options(args: argparse.Namespace) -> dict:
    names = {"lr": "lr", "perceptual_weight": "perceptual_weight", "l1": "l1", "l2": "l2", "reg": "reg"}
    opts = {k: getattr(args, a) for k, a in names.items() if getattr(args, a) is not None}
    return {**opts, "space": args.space, "optimizer": args.optimizer, "steps": args.steps, "init": args.init,
            "restarts": args.restarts, "perceptual": args.perceptual, "optimize_noise": args.optimize_noise}


def run_invert(args: argparse.Namespace) -> int:
    engine = gan_engine(args)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {}
    for start in range(0, len(args.images), args.batch):
        chunk = args.images[start:start + args.batch]
        progress, bar = tqdm_progress(f"inverting {start + 1}-{start + len(chunk)}/{len(args.images)}")
        with bar:
            result = engine.invert(chunk, seed=args.seed, progress=progress, **_loss_options(args))
        seconds = result.timings["total"] / len(chunk)
        for i, path in enumerate(chunk):
            result.images[i].save(args.out / f"{path.stem}_recon.png")
            record = {k: (v[i:i + 1] if k == "latent" else v) for k, v in result.latents.items()}
            save_latents(args.out / f"{path.stem}.npz", record)
            metrics[path.name] = {"psnr": result.metrics["psnr"][i], "ssim": result.metrics["ssim"][i],
                                  "perceptual": (result.metrics.get("perceptual") or [None] * len(chunk))[i],
                                  "perceptual_net": result.metrics["perceptual_net"], "seconds": seconds,
                                  "steps": args.steps, "loss": result.metrics["loss"][i]}
    write_json({"images": metrics, "options": result.options}, args.out / "metrics.json")
    for name, m in metrics.items():
        print(f"{name}: psnr {m['psnr']:.2f} dB, ssim {m['ssim']:.3f}, {m['seconds']:.1f} s")
    return 0


def run_scribble(args: argparse.Namespace) -> int:
    from .. import imaging
    engine = gan_engine(args)
    options = _loss_options(args)
    if args.perceptual_weight is None and args.perceptual != "none":
        options["perceptual_weight"] = 0.1
    progress, bar = tqdm_progress("scribble")
    with bar:
        result = engine.scribble(args.sketch, args.mask, seed=args.seed, dilate=args.dilate, progress=progress, **options)
    args.out.mkdir(parents=True, exist_ok=True)
    result.images[0].save(args.out / f"{args.sketch.stem}_result.png")
    save_latents(args.out / f"{args.sketch.stem}.npz", result.latents)
    if result.frames:
        imaging.save_animation(result.frames, args.out / f"{args.sketch.stem}_progress.gif", fps=6)
    metrics = {"masked_l2": result.metrics["masked_l2"][0], "latent_distance": result.metrics["latent_distance"][0],
               "seconds": result.timings["total"], "steps": args.steps, "restarts": args.restarts}
    write_json({**metrics, "options": result.options}, args.out / "metrics.json")
    print(f"masked L2 {metrics['masked_l2']:.4f}, latent distance {metrics['latent_distance']:.2f}, {metrics['seconds']:.1f} s")
    return 0
