"""``python -m engines invert`` and ``scribble``: projection of photos and colour sketches."""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import batch
from ..options import add_flag
from ..stylegan.options import SCRIBBLE_DEFAULTS, ProjectionConfig
from .common import add_gan_flags, add_photo_flags, gan_engine, positive_int, tqdm_progress, write_json


#: What a batch job does, for --help texts.
BATCH_HELP = ("resumable (records/ per input; a rerun skips finished ones), manifest.json, one merged metrics.json, and "
              "sharded across processes under `accelerate launch` or `torchrun`")

#: CLI flag → ProjectionConfig field, for the options a user sets on the command line.
FLAGS = {"--space": "space", "--optimizer": "optimizer", "--steps": "steps", "--lr": "lr", "--init": "init",
         "--restarts": "restarts", "--perceptual": "perceptual", "--perceptual-weight": "perceptual_weight",
         "--l1": "l1", "--l2": "l2", "--reg": "reg", "--noise-reg": "noise_reg", "--follow-lines": "follow_lines",
         "--coarse-to-fine": "coarse_to_fine"}


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
    p.add_argument("--optimize-noise", action=argparse.BooleanOptionalAction, default=None,
                   help="also fit StyleGAN2's per-pixel noise maps (fine detail: stripes, pupils), kept noise-like by "
                        "--noise-reg and saved in the latent .npz (default: on for StyleGAN2 inversion; for scribbles only "
                        "with --follow-lines 0.75 or more)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", type=Path, required=True, help="output folder")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("invert", help="project photos into the GAN's latent space",
                       description="Invert photos into z / w / w+ by optimisation. Writes a reconstruction PNG and a "
                                   "latent .npz per image and metrics.json (psnr, ssim, perceptual, seconds, steps).")
    p.add_argument("images", nargs="+", type=Path,
                   help="photos (centre-cropped and resized to the model resolution), folders of them or .txt lists "
                        "(one path a line); a folder or list is a batch job: " + BATCH_HELP)
    _common(p, {})
    p.add_argument("--batch", type=positive_int, default=8,
                   help="images optimised together (default: 8; 1 with --optimizer lbfgs, whose line search a batch "
                        "would share)")
    add_photo_flags(p, then="also write the reconstruction pasted back into the photo (<name>_in_photo.png)")
    p.set_defaults(run=run_invert)

    s = sub.add_parser("scribble", help="turn a colour scribble into a realistic image",
                       description="Masked projection: an image from the GAN that matches the sketch's strokes. The mask "
                                   "comes from --mask (white = strokes) or from the sketch (alpha, or non-background pixels).")
    s.add_argument("sketch", nargs="+", type=Path,
                   help="colour sketch (PNG; alpha or a plain background marks what is not drawn), or folders / .txt "
                        "lists of them, each scribbled on its own with --seed (a batch job: " + BATCH_HELP + ")")
    s.add_argument("--mask", type=Path, default=None, help="mask image: white = strokes to match (default: from the sketch)")
    s.add_argument("--dilate", type=int, default=0, help="grow the derived mask by this many pixels, 0-256 (default: 0)")
    _common(s, SCRIBBLE_DEFAULTS)
    s.set_defaults(run=run_scribble)


def _projection_options(args: argparse.Namespace) -> dict:
    """The options the user set (the engine fills in the rest and checks them all)."""
    opts = {name: getattr(args, name) for name in FLAGS.values() if getattr(args, name) is not None}
    if args.optimize_noise is not None:
        opts["optimize_noise"] = args.optimize_noise
    return opts


def _job(args: argparse.Namespace, command: str, inputs: list, expanded: bool, chunk: int, options: dict):
    """The batch job of a command: resumable (records, manifest) for a folder / list, or under several processes."""
    state = batch.process_state(args.device)
    return batch.BatchJob(command, inputs, args.out, {**options, "model": args.model, "arch": args.arch,
                                                     "class": args.class_label, "seed": args.seed},
                          chunk=chunk, resumable=expanded or state.num_processes > 1, state=state)


def run_invert(args: argparse.Namespace) -> int:
    from .. import faces, imaging
    from ..stylegan.latents import save_latents
    inputs, expanded = batch.expand_inputs(args.images)
    options = _projection_options(args)
    # L-BFGS shares one line search and history across a batch: one photo at a time, so each gets its own run
    chunk = 1 if str(options.get("optimizer", "")).lower() == "lbfgs" else args.batch
    job = _job(args, "invert", inputs, expanded, chunk,
               {**options, "batch": chunk, "face": args.face, "pti": args.pti})
    args.device = batch.process_device(args.device, job.state)
    engine = gan_engine(args)
    args.out.mkdir(parents=True, exist_ok=True)

    def work(chunk: list[Path], todo: list[Path], desc: str) -> dict[Path, dict]:
        progress, bar = tqdm_progress(desc)
        with bar:
            result = engine.invert(chunk, seed=args.seed, face=args.face, pti_steps=args.pti, progress=progress,
                                   **options)
        seconds = result.timings["total"] / len(chunk)
        records = {}
        for i, path in enumerate(chunk):
            if path not in todo:
                continue  # finished by an earlier run: written once, never again
            files = [f"{path.stem}_recon.png", f"{path.stem}.npz"]
            result.images[i].save(args.out / files[0])
            if args.face:
                box = tuple(result.options["face_boxes"][i])
                faces.paste_back(faces.FaceCrop(imaging.load_image(path), box, True), result.images[i]).save(
                    args.out / f"{path.stem}_in_photo.png")
                files.append(f"{path.stem}_in_photo.png")
            record = {k: (v[i:i + 1] if k == "latent" else v) for k, v in result.latents.items()}
            save_latents(args.out / files[1], record)
            metrics = {"psnr": result.metrics["psnr"][i], "ssim": result.metrics["ssim"][i],
                       "realism": (result.metrics.get("realism") or [None] * len(chunk))[i],
                       "perceptual": (result.metrics.get("perceptual") or [None] * len(chunk))[i],
                       "perceptual_net": result.metrics["perceptual_net"], "seconds": seconds,
                       "steps": result.options["steps"], "loss": result.metrics["loss"][i],
                       "warnings": result.metrics["warnings"][i]}
            if args.face:
                metrics.update(face_box=result.options["face_boxes"][i], face_found=result.options["face_found"][i])
            records[path] = {"files": files, "metrics": metrics, "options": result.options}
        return records

    records = job.run(work)
    if not job.state.is_main_process:
        return 0
    metrics = {r["name"]: r["metrics"] for r in records}
    write_json({"images": metrics, "options": records[-1]["options"]}, args.out / "metrics.json")
    for name, m in metrics.items():
        box = m.get("face_box")
        where = ("" if box is None else f", cat face at left {box[0]} top {box[1]} side {box[2]}" if m.get("face_found")
                 else f", centre square {box}")
        print(f"{name}: psnr {m['psnr']:.2f} dB, ssim {m['ssim']:.3f}, {m['seconds']:.1f} s{where}")
        for warning in m.get("warnings") or []:
            print(f"  warning: {warning}")
    return 0


def run_scribble(args: argparse.Namespace) -> int:
    from .. import imaging
    from ..stylegan.latents import save_latents
    inputs, expanded = batch.expand_inputs(args.sketch)
    options = _projection_options(args)
    if args.perceptual_weight is None and args.perceptual not in (None, "none"):
        options["perceptual_weight"] = ProjectionConfig.limit("perceptual_weight").default
    job = _job(args, "scribble", inputs, expanded or len(inputs) > 1, 1,  # several sketches: a batch job
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
