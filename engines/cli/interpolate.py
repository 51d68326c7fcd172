"""``python -m engines interpolate``: animate the latent path between two images or latents."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import add_command, add_gan_flags, add_out_flag, gan_engine, positive_int, tqdm_progress, write_json


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "interpolate", """
        Walk the GAN's latent space from A to B (slerp in z, lerp in w/w+) and write the frames as a GIF or MP4, a
        still strip, a naive pixel crossfade for comparison and a metrics JSON. Images are inverted into the model
        first.""", run)
    p.add_argument("a", help="start: an image (.png/.jpg/.jpeg/.webp, inverted first) or a latent .npz")
    p.add_argument("b", help="end: an image (.png/.jpg/.jpeg/.webp, inverted first) or a latent .npz")
    add_gan_flags(p)
    p.add_argument("--space", choices=["z", "w", "w+"], default=None,
                   help="latent space to interpolate in (default: w+, or z for a DCGAN, which has no w)")
    p.add_argument("--frames", type=int, default=16, help="number of frames, endpoints included, 2-240 (default: 16)")
    p.add_argument("--fps", type=float, default=12, help="frames per second of the animation, 0.1-240 (default: 12)")
    p.add_argument("--steps", type=positive_int, default=300,
                   help="inversion steps, used only when A or B is an image (default: 300)")
    p.add_argument("--seed", type=int, default=0, help="inversion seed, used only when A or B is an image (default: 0)")
    add_out_flag(p, "the animation: a .gif or .mp4 path; the other outputs are written next to it")
    p.add_argument("--strip", type=Path, default=None,
                   help="where to write a still strip of the frames (default: <out stem>_strip.png next to OUT)")
    p.add_argument("--strip-frames", type=positive_int, default=8,
                   help="how many evenly spaced frames the strip shows (default: 8)")
    p.add_argument("--no-crossfade", action="store_true",
                   help="skip the pixel crossfade comparison (<out stem>_crossfade.<ext>)")


def run(args: argparse.Namespace) -> int:
    from ..base import LatentStudioError, check_range
    from ..imaging import frame_strip, save_animation
    from ..stylegan.interpolation import interpolate
    from ..stylegan.latents import save_latents

    out: Path = args.out
    ext = out.suffix.lower()
    if ext not in (".gif", ".mp4"):  # fail before the (slow) work, not after it
        raise LatentStudioError(f"--out must end in .gif or .mp4, got {str(out)!r}.")
    check_range("Frames", args.frames, 2, 240, integer=True)
    check_range("--fps", args.fps, 0.1, 240)
    engine = gan_engine(args)
    space = args.space or ("w+" if "w+" in engine.spaces else "z")
    progress, bar = tqdm_progress("interpolating")
    with bar:
        result = interpolate(engine, args.a, args.b, space=space, frames=args.frames,
                             crossfade_row=not args.no_crossfade,
                             invert_options={"steps": args.steps, "seed": args.seed}, progress=progress)
    stem = out.with_suffix("")
    files = {"animation": save_animation(result.images, out, fps=args.fps)}
    strip = args.strip or out.with_name(f"{out.stem}_strip.png")
    strip.parent.mkdir(parents=True, exist_ok=True)
    frame_strip(result.images, args.strip_frames).save(strip)
    files["strip"] = strip
    if result.frames:
        files["crossfade"] = save_animation(result.frames, Path(f"{stem}_crossfade{ext}"), fps=args.fps)
    files["latents"] = save_latents(Path(f"{stem}_latents.npz"), result.latents)
    files["metrics"] = Path(f"{stem}_metrics.json")
    options = {**result.options, "fps": args.fps, "model": args.model, "device": str(engine.device)}
    write_json({"metrics": result.metrics, "timings": result.timings, "options": options,
                "files": {k: str(v) for k, v in files.items()}}, files["metrics"])
    sm = result.metrics["smoothness"]
    print(f"wrote {len(result.images)} frames ({space}) to {out}; step mean {sm['step_mean']:.4f}, "
          f"var {sm['step_var']:.2e}")
    for name, path in files.items():
        if name != "animation":
            print(f"  {name}: {path}")
    return 0
