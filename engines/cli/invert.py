"""``python -m engines invert``: project photos into the GAN's latent space (one at a time or as a batch job)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import batch
from .common import (add_batch_inputs, add_command, add_photo_flags, add_projection_flags, gan_engine, positive_int,
                     projection_job, projection_options, tqdm_progress, write_json)


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "invert", """
        Invert photos into z / w / w+ by optimisation. Writes a reconstruction PNG and a latent .npz per image and
        metrics.json (psnr, ssim, perceptual, seconds, steps).""", run_invert)
    add_batch_inputs(p, "images", "photos (centre-cropped and resized to the model resolution)")
    add_projection_flags(p, {})
    p.add_argument("--batch", type=positive_int, default=8,
                   help="images optimised together (default: 8; 1 with --optimizer lbfgs, whose line search a batch "
                        "would share)")
    add_photo_flags(p, then="also write the reconstruction pasted back into the photo (<name>_in_photo.png)")


def run_invert(args: argparse.Namespace) -> int:
    from .. import faces, imaging
    from ..stylegan.latents import save_latents
    inputs, expanded = batch.expand_inputs(args.images)
    options = projection_options(args)
    # L-BFGS shares one line search and history across a batch: one photo at a time, so each gets its own run
    chunk = 1 if str(options.get("optimizer", "")).lower() == "lbfgs" else args.batch
    job = projection_job(args, "invert", inputs, expanded, chunk,
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
