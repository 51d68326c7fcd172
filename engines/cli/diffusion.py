"""``python -m engines sdedit`` (SDEdit a photo or sketch) and ``compare`` (the same sketch through GAN and SDEdit)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..diffusion.options import SDEditOptions
from ..options import add_flag
from .common import (add_batch_inputs, add_command, add_device_flag, add_out_flag, known_models_help, positive_int,
                     tqdm_progress, write_json)


def _noise_flags(p: argparse.ArgumentParser) -> None:
    """The SDEdit options both commands share; types, ranges, defaults and help come from `SDEditOptions`
    (the engine checks the values once, with the same messages as for the UI and Python callers)."""
    level = p.add_mutually_exclusive_group()
    add_flag(level, "--strength", SDEditOptions.limit("strength"))
    add_flag(level, "--t0", SDEditOptions.limit("t0"))
    add_flag(p, "--scheduler", SDEditOptions.limit("scheduler"))
    add_flag(p, "--eta", SDEditOptions.limit("eta"))
    add_flag(p, "--guidance", SDEditOptions.limit("guidance"))
    add_flag(p, "--prompt", SDEditOptions.limit("prompt"))
    add_flag(p, "--negative", SDEditOptions.limit("negative_prompt"))
    add_flag(p, "--class-name", SDEditOptions.limit("class_name"))


def _model_flags(p: argparse.ArgumentParser, flag: str) -> None:
    p.add_argument(flag, default="default",
                   help="diffusion model: 'default' (our class-conditional pixel DDPM in weights/ddpm-cats64), "
                        "a local diffusers folder (ours or Stable Diffusion), 'hf:org/repo', 'org/repo', or a "
                        + known_models_help("diffusion") + ". Turbo models ('turbo' in the name) default to "
                        "guidance 0 and 4 steps (default: default)")
    p.add_argument("--dtype", default=None, choices=["float32", "float16", "bfloat16"],
                   help="weights' dtype (default: float16 for Stable Diffusion on CUDA, else float32)")
    p.add_argument("--resolution", type=positive_int, default=None,
                   help="Stable Diffusion only: side the guide is cropped/resized to, a multiple of 8 "
                        "(default: the checkpoint's native size, 512 for v1.x)")
    p.add_argument("--attention-slicing", action="store_true",
                   help="Stable Diffusion: compute attention in slices (less GPU memory, a little slower)")
    p.add_argument("--cpu-offload", action="store_true",
                   help="Stable Diffusion on CUDA: keep weights on the CPU and move each model to the GPU only "
                        "while it runs (small GPUs)")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "sdedit", """
        Noise the guide to a level (--strength or --t0), then denoise it with a diffusers scheduler under
        classifier-free guidance. Writes one PNG per sample, the prepared guide, a denoising GIF and metrics.json (L2
        to the guide, masked L2 with a mask, timings, every option used).""", run_sdedit)
    add_batch_inputs(p, "guide", "guide images: photos or colour sketches (centre-cropped to a square), each edited "
                                 "with the same --seed (several make a batch job too)")
    _model_flags(p, "--model")
    _noise_flags(p)
    add_flag(p, "--steps", SDEditOptions.limit("steps"), default=None)  # None: the model's default (turbo: 4)
    p.add_argument("--mask", default=None,
                   help="mask image, white = re-imagine (outside it the result is exactly the guide); 'auto' = the "
                        "guide's strokes (default: no mask, the whole image)")
    add_flag(p, "--n", SDEditOptions.limit("n"))
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    add_flag(p, "--frames", SDEditOptions.limit("frames"),
             help="x0 previews of the first sample in the GIF; 0 writes no GIF")
    p.add_argument("--fps", type=float, default=4, help="frames per second of the GIF (default: 4)")
    add_device_flag(p)
    add_out_flag(p)

    c = add_command(sub, "compare", """
        Run a colour sketch through the GAN's masked projection and through SDEdit with the same mask (from the
        sketch's strokes unless --mask), and write a side-by-side sheet (sketch | GAN | diffusion), each result, the
        mask and metrics.json with both engines' masked L2 (same units: mean squared error in [0, 1] over the mask)
        and seconds.""", run_compare)
    c.add_argument("sketch", type=Path, help="colour sketch (strokes on a plain white/black background, or with alpha)")
    c.add_argument("--gan", default="default",
                   help="GAN source: 'default', a local folder/.safetensors/.pkl/.pt, 'hf:org/repo[:file]', a URL "
                        "or a " + known_models_help("gan") + " (default: default)")
    c.add_argument("--gan-arch", choices=["stylegan2", "dcgan"], default="stylegan2",
                   help="which default GAN 'default' means (default: stylegan2)")
    c.add_argument("--gan-class", default=None, metavar="CLASS",
                   help="class of a class-conditional GAN (index, or name where the model has names)")
    c.add_argument("--gan-steps", type=positive_int, default=None,
                   help="GAN projection steps per restart (default: the scribble default, as `scribble --steps`)")
    _model_flags(c, "--diffusion")
    _noise_flags(c)
    add_flag(c, "--steps", SDEditOptions.limit("steps"), default=None,
             help="diffusion " + SDEditOptions.limit("steps").help)
    c.add_argument("--mask", type=Path, default=None,
                   help="mask image, white = strokes (default: derived from the sketch with mask_from_scribble)")
    c.add_argument("--dilate", type=int, default=0, help="grow the derived mask by this many pixels, 0-256 (default: 0)")
    c.add_argument("--sdedit-mask", choices=["edit", "metric"], default="edit",
                   help="edit: SDEdit re-imagines only the masked strokes and keeps the rest of the sketch; metric: "
                        "SDEdit re-imagines the whole sketch and the mask only scores it (default: edit)")
    c.add_argument("--seed", type=int, default=0, help="random seed for both engines (default: 0)")
    c.add_argument("--edit", default=None, metavar="DIRECTION",
                   help="the input is a photo: compare the GAN's DIRECTION edit (e.g. grumpy: invert, then move along "
                        "it) with the diffusion model's class translation to what it means (grumpy cat, or "
                        "--class-name), writing compare.png, gan.png, diffusion.png and metrics.json (PSNR / SSIM / "
                        "layout SSIM to the photo, distance to real photos of the target, cat face, seconds); --strength is "
                        "then the translation's depth, --guidance and --steps its own")
    c.add_argument("--gan-strength", type=float, default=None,
                   help="with --edit: multiples of the direction's unit step (default: the direction's own)")
    c.add_argument("--face", action="store_true", help="with --edit: crop the photo to its cat face first")
    add_device_flag(c)
    add_out_flag(c)


def _engine(args: argparse.Namespace, source: str):
    from ..diffusion import DiffusionEngine
    return DiffusionEngine(source, device=args.device, dtype=args.dtype, resolution=args.resolution,
                           attention_slicing=args.attention_slicing, cpu_offload=args.cpu_offload)


def _sdedit_options(args: argparse.Namespace) -> dict:
    return {"strength": args.strength, "t0": args.t0, "scheduler": args.scheduler, "eta": args.eta,
            "guidance": args.guidance, "prompt": args.prompt, "negative_prompt": args.negative,
            "class_name": args.class_name, "steps": args.steps}


def run_sdedit(args: argparse.Namespace) -> int:
    from .. import batch, imaging
    from ..base import check_range
    check_range("--fps", args.fps, 0.1, 60)  # a CLI-only option; the SDEdit options are checked by the engine
    inputs, expanded = batch.expand_inputs(args.guide)
    state = batch.process_state(args.device)
    options = _sdedit_options(args)
    job = batch.BatchJob("sdedit", inputs, args.out, {**options, "model": args.model, "dtype": args.dtype,
                                                     "resolution": args.resolution, "mask": args.mask, "n": args.n,
                                                     "seed": args.seed, "frames": args.frames},
                         chunk=1, resumable=expanded or len(inputs) > 1 or state.num_processes > 1, state=state)
    args.device = batch.process_device(args.device, state)
    engine = _engine(args, args.model)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    def work(chunk: list[Path], todo: list[Path], desc: str) -> dict[Path, dict]:
        guide = chunk[0]
        progress, bar = tqdm_progress(desc if job.resumable else "sdedit")
        with bar:
            result = engine.from_guide(guide, args.mask, seed=args.seed, progress=progress, n=args.n,
                                       frames=args.frames, **options)
        stem = guide.stem
        files = [f"{stem}_sdedit_{i:02d}.png" for i in range(len(result.images))]
        for name, img in zip(files, result.images):
            img.save(out / name)
        if result.frames:
            result.frames[0].save(out / f"{stem}_guide.png")
            imaging.save_animation(result.frames, out / f"{stem}_denoising.gif", fps=args.fps)
            files += [f"{stem}_guide.png", f"{stem}_denoising.gif"]
        return {guide: {"files": files, "metrics": result.metrics, "timings": result.timings,
                        "options": result.options}}

    records = job.run(work)
    if not state.is_main_process:
        return 0
    model = engine.describe().as_dict()
    if not job.resumable:  # one guide in one process: the metrics.json of old
        r = records[0]
        write_json({"metrics": r["metrics"], "timings": r["timings"], "options": r["options"], "model": model,
                    "files": r["files"]}, out / "metrics.json")
    else:
        write_json({"guides": {r["name"]: {k: r[k] for k in ("metrics", "timings", "files")} for r in records},
                    "options": records[-1]["options"], "model": model}, out / "metrics.json")
    for r in records:
        metrics, opts = r["metrics"], r["options"]
        key = "masked_l2" if "masked_l2" in metrics else "l2"
        values = ", ".join(f"{v:.4f}" for v in metrics[key])
        print(f"wrote {len(metrics[key])} image(s) of {r['name']} to {out}: {key} {values}, {r['timings']['total']:.1f} s "
              f"({opts['denoise_steps']} of {opts['steps']} steps of {opts['scheduler']} from t={opts['t_start']})")
    return 0


def run_compare_edits(args: argparse.Namespace) -> int:
    from .. import imaging
    from ..base import check_range
    from ..compare_edits import compare_edits, table
    from ..stylegan.direction_files import load_direction
    from ..stylegan.engine import GanEngine
    gan = GanEngine(args.gan, arch=args.gan_arch, device=args.device).for_class(args.gan_class)
    diffusion = _engine(args, args.diffusion)
    direction = load_direction(args.edit, gan)
    strength = args.gan_strength if args.gan_strength is not None else float(direction.meta.get("default_strength", 3))
    check_range("--gan-strength", strength, -1000.0, 1000.0)
    options = {k: v for k, v in (("strength", args.strength), ("guidance", args.guidance), ("steps", args.steps))
               if v is not None}
    square, runs, own = compare_edits(gan, diffusion, args.sketch, direction=args.edit, gan_strength=strength,
                                      target_class=args.class_name, face=args.face, **options)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    side = max(r.image.size[0] for r in runs)
    imaging.make_grid([im.resize((side, side)) for im in (square, *(r.image for r in runs))], nrow=3).save(
        out / "compare.png")
    runs[0].image.save(out / "gan.png")
    runs[1].image.save(out / "diffusion.png")
    write_json({"sheet": ["photo", "gan", "diffusion"], "photo_target_distance": own,
                "gan": runs[0].row(), "diffusion": runs[1].row()}, out / "metrics.json")
    print(f"wrote compare.png to {out}:\n{table(runs, own)}")
    return 0


def run_compare(args: argparse.Namespace) -> int:
    if args.edit:
        return run_compare_edits(args)
    import numpy as np
    from PIL import Image

    from .. import compare as comparison
    from .. import imaging
    from ..stylegan.engine import GanEngine

    # one square crop of the sketch and its mask, so both engines see exactly the same picture
    sketch_rgb, mask = comparison.square_sketch(args.sketch, args.mask, dilate=args.dilate)
    gan = GanEngine(args.gan, arch=args.gan_arch, device=args.device).for_class(args.gan_class)
    diffusion = _engine(args, args.diffusion)
    runs = []
    for name, engine, guide_mask, options in (
            ("GAN", gan, "strokes", {"steps": args.gan_steps}),
            ("Diffusion", diffusion, "strokes" if args.sdedit_mask == "edit" else None,
             {"frames": 0, **_sdedit_options(args)})):
        progress, bar = tqdm_progress("GAN scribble" if name == "GAN" else "SDEdit")
        with bar:
            runs.append(comparison.run_engine(name, engine, sketch_rgb, mask, seed=args.seed, guide_mask=guide_mask,
                                              progress=progress, photo_distance=gan.photo_distance(), **options))
    gan_run, diff_run = runs

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    side = max(gan_run.image.size[0], diff_run.image.size[0])
    row = [im.resize((side, side), Image.LANCZOS) for im in (sketch_rgb, gan_run.image, diff_run.image)]
    imaging.make_grid(row, nrow=3).save(out / "compare.png")
    gan_run.image.save(out / "gan.png")
    diff_run.image.save(out / "diffusion.png")
    Image.fromarray((np.asarray(mask) * 255).round().astype(np.uint8), mode="L").save(out / "mask.png")
    metrics = {
        "sheet": ["sketch", "gan", "diffusion"],
        "mask": str(args.mask) if args.mask else f"from the sketch (mask_from_scribble, dilate {args.dilate})",
        "gan": {**gan_run.row(), "model": gan.describe().as_dict()},
        "diffusion": {**diff_run.row(), "sdedit_mask": args.sdedit_mask, "model": diffusion.describe().as_dict()},
    }
    write_json(metrics, out / "metrics.json")
    print(f"wrote compare.png to {out}:\n{comparison.table(runs)}")
    return 0
