"""``python -m engines invert`` and ``scribble``: projection of photos and colour sketches."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import faces, imaging
from ..options import add_flag
from ..stylegan.engine import SCRIBBLE_DEFAULTS
from ..stylegan.latents import save_latents
from ..stylegan.projector import ProjectionConfig
from .common import add_gan_flags, add_photo_flags, gan_engine, positive_int, tqdm_progress, write_json


#: CLI flag → ProjectionConfig field, for the options a user sets on the command line.
FLAGS = {"--space": "space", "--optimizer": "optimizer", "--steps": "steps", "--lr": "lr", "--init": "init",
         "--restarts": "restarts", "--perceptual": "perceptual", "--perceptual-weight": "perceptual_weight",
         "--l1": "l1", "--l2": "l2", "--reg": "reg"}


def _common(p: argparse.ArgumentParser, defaults: dict) -> None:
    """The projection flags, with types, ranges and defaults from `ProjectionConfig` (``defaults``: this
    command's own, e.g. scribble's). Unset flags stay None, so the engine applies those same defaults."""
    add_gan_flags(p)
    limits = ProjectionConfig.limits()
    for flag, name in FLAGS.items():
        limit = limits[name]
        if name in defaults:
            limit = dataclasses.replace(limit, default=defaults[name])
        add_flag(p, flag, limit, default=None)
    p.add_argument("--optimize-noise", action="store_true", help="also optimise StyleGAN2 noise maps (with the StyleGAN2 noise regulariser)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invert", help="project photos into the GAN's latent space",
                       description="Invert photos into z / w / w+ by optimisation. Writes a reconstruction PNG and a "
                                   "latent .npz per image and metrics.json (psnr, ssim, perceptual, seconds, steps).")
    p.add_argument("images", nargs="+", type=Path, help="photos (centre-cropped and resized to the model resolution)")
    _common(p, {})
    p.add_argument("--batch", type=positive_int, default=8, help="images optimised together (default: 8)")
    add_photo_flags(p, then="also write the reconstruction pasted back into the photo (<name>_in_photo.png)")
    p.set_defaults(run=run_invert)

    s = sub.add_parser("scribble", help="turn a colour scribble into a realistic image",
                       description="Masked projection: an image from the GAN that matches the sketch's strokes. The mask "
                                   "comes from --mask (white = strokes) or from the sketch (alpha, or non-background pixels).")
    s.add_argument("sketch", type=Path, help="colour sketch (PNG; alpha or a plain background marks what is not drawn)")
    s.add_argument("--mask", type=Path, default=None, help="mask image: white = strokes to match (default: from the sketch)")
    s.add_argument("--dilate", type=int, default=0, help="grow the derived mask by this many pixels, 0-256 (default: 0)")
    _common(s, SCRIBBLE_DEFAULTS)
    s.set_defaults(run=run_scribble)


def _projection_options(args: argparse.Namespace) -> dict:
    """The options the user set (the engine fills in the rest and checks them all)."""
    opts = {name: getattr(args, name) for name in FLAGS.values() if getattr(args, name) is not None}
    return {**opts, "optimize_noise": args.optimize_noise}


def run_invert(args: argparse.Namespace) -> int:
    engine = gan_engine(args)
    args.out.mkdir(parents=True, exist_ok=True)
    metrics = {}
    for start in range(0, len(args.images), args.batch):
        chunk = args.images[start:start + args.batch]
        progress, bar = tqdm_progress(f"inverting {start + 1}-{start + len(chunk)}/{len(args.images)}")
        with bar:
            result = engine.invert(chunk, seed=args.seed, face=args.face, pti_steps=args.pti, progress=progress,
                                   **_projection_options(args))
        seconds = result.timings["total"] / len(chunk)
        for i, path in enumerate(chunk):
            result.images[i].save(args.out / f"{path.stem}_recon.png")
            if args.face:
                box = tuple(result.options["face_boxes"][i])
                faces.paste_back(faces.FaceCrop(imaging.load_image(path), box, True), result.images[i]).save(
                    args.out / f"{path.stem}_in_photo.png")
            record = {k: (v[i:i + 1] if k == "latent" else v) for k, v in result.latents.items()}
            save_latents(args.out / f"{path.stem}.npz", record)
            metrics[path.name] = {"psnr": result.metrics["psnr"][i], "ssim": result.metrics["ssim"][i],
                                  "realism": (result.metrics.get("realism") or [None] * len(chunk))[i],
                                  "perceptual": (result.metrics.get("perceptual") or [None] * len(chunk))[i],
                                  "perceptual_net": result.metrics["perceptual_net"], "seconds": seconds,
                                  "steps": result.options["steps"], "loss": result.metrics["loss"][i]}
    write_json({"images": metrics, "options": result.options}, args.out / "metrics.json")
    for name, m in metrics.items():
        print(f"{name}: psnr {m['psnr']:.2f} dB, ssim {m['ssim']:.3f}, {m['seconds']:.1f} s")
    return 0


def run_scribble(args: argparse.Namespace) -> int:
    engine = gan_engine(args)
    options = _projection_options(args)
    if args.perceptual_weight is None and args.perceptual not in (None, "none"):
        options["perceptual_weight"] = ProjectionConfig.limit("perceptual_weight").default
    progress, bar = tqdm_progress("scribble")
    with bar:
        result = engine.scribble(args.sketch, args.mask, seed=args.seed, dilate=args.dilate, progress=progress, **options)
    args.out.mkdir(parents=True, exist_ok=True)
    result.images[0].save(args.out / f"{args.sketch.stem}_result.png")
    save_latents(args.out / f"{args.sketch.stem}.npz", result.latents)
    if result.frames:
        imaging.save_animation(result.frames, args.out / f"{args.sketch.stem}_progress.gif", fps=6)
    metrics = {"masked_l2": result.metrics["masked_l2"][0], "realism": (result.metrics.get("realism") or [None])[0],
               "latent_distance": result.metrics["latent_distance"][0],
               "seconds": result.timings["total"], "steps": result.options["steps"],
               "restarts": result.options["restarts"]}
    write_json({**metrics, "options": result.options}, args.out / "metrics.json")
    print(f"masked L2 {metrics['masked_l2']:.4f}, realism {metrics['realism']}, latent distance {metrics['latent_distance']:.2f}, {metrics['seconds']:.1f} s")
    return 0
