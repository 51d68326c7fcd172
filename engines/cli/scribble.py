"""``python -m engines scribble``: turn colour sketches into realistic images by masked projection."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import batch
from ..stylegan.options import SCRIBBLE_DEFAULTS, ProjectionConfig
from .common import (add_batch_inputs, add_command, add_projection_flags, gan_engine, projection_job,
                     projection_options, tqdm_progress, write_json)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "scribble", """
        Masked projection: an image from the GAN that matches the sketch's strokes. The mask comes from --mask (white
        = strokes) or from the sketch (alpha, or non-background pixels).""", run_scribble)
    add_batch_inputs(p, "sketch", "colour sketches (PNG; alpha or a plain background marks what is not drawn), each "
                                  "scribbled on its own with --seed (several make a batch job too)")
    p.add_argument("--mask", type=Path, default=None, help="mask image: white = strokes to match (default: from the sketch)")
    p.add_argument("--dilate", type=int, default=0, help="grow the derived mask by this many pixels, 0-256 (default: 0)")
    add_projection_flags(p, SCRIBBLE_DEFAULTS)


def run_scribble(args: argparse.Namespace) -> int:
    from .. import imaging
    from ..stylegan.latents import save_latents
    inputs, expanded = batch.expand_inputs(args.sketch)
    options = projection_options(args)
    if args.perceptual_weight is None and args.perceptual not in (None, "none"):
        options["perceptual_weight"] = ProjectionConfig.limit("perceptual_weight").default
    job = projection_job(args, "scribble", inputs, expanded or len(inputs) > 1, 1,  # several sketches: a batch job
                         {**options, "mask": str(args.mask) if args.mask else None, "dilate": args.dilate})
    args.device = batch.process_device(args.device, job.state)
    engine = gan_engine(args)
    args.out.mkdir(parents=True, exist_ok=True)

    def work(chunk: list[Path], todo: list[Path], desc: str) -> dict[Path, dict]:
        sketch = chunk[0]
        progress, bar = tqdm_progress(desc if job.resumable else "scribble")
        with bar:
            result = engine.scribble(sketch, args.mask, seed=args.seed, dilate=args.dilate, progress=progress,
                                     **options)
        files = [f"{sketch.stem}_result.png", f"{sketch.stem}.npz"]
        result.images[0].save(args.out / files[0])
        save_latents(args.out / files[1], result.latents)
        if result.frames:
            imaging.save_animation(result.frames, args.out / f"{sketch.stem}_progress.gif", fps=6)
            files.append(f"{sketch.stem}_progress.gif")
        metrics = {"holds_cat_face": result.metrics["holds_face"][0], "cat_face_confidence": result.metrics["cat_face"][0],
                   "photo_distance": (result.metrics.get("photo_distance") or [None])[0],
                   "layout_l2": result.metrics["layout_l2"][0], "masked_l2": result.metrics["masked_l2"][0],
                   "realism": (result.metrics.get("realism") or [None])[0],
                   "latent_distance": result.metrics["latent_distance"][0],
                   "seconds": result.timings["total"], "steps": result.options["steps"],
                   "restarts": result.options["restarts"]}
        return {sketch: {"files": files, "metrics": metrics, "options": result.options}}

    records = job.run(work)
    if not job.state.is_main_process:
        return 0
    if not job.resumable:  # one sketch in one process: the flat metrics.json of old
        metrics = records[-1]["metrics"]
        write_json({**metrics, "options": records[-1]["options"]}, args.out / "metrics.json")
    else:
        write_json({"sketches": {r["name"]: r["metrics"] for r in records}, "options": records[-1]["options"]},
                   args.out / "metrics.json")
    for r in records:
        m = r["metrics"]
        dist = "" if m.get("photo_distance") is None else f"distance to photos {m['photo_distance']:.2f} (1 ≈ a photo), "
        print(f"{r['name']}: cat face {'found' if m['holds_cat_face'] else 'NOT found'} "
              f"(confidence {m['cat_face_confidence']:.2f}), {dist}layout L2 {m['layout_l2']:.4f}, "
              f"masked L2 {m['masked_l2']:.4f}, patch realism {m['realism']}, "
              f"latent distance {m['latent_distance']:.2f}, {m['seconds']:.1f} s")
    return 0
