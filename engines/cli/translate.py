"""``python -m engines translate``: turn the cat in a photo into another class (DDIM inversion + regeneration)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..diffusion.options import TranslateOptions
from ..options import add_flag
from .common import add_command, add_device_flag, add_out_flag, write_json

#: TranslateOptions fields → their flags (ranges and defaults come from the dataclass)
FLAGS = {"--class": "class_name", "--source-class": "source_class", "--depth": "strength", "--steps": "steps",
         "--guidance": "guidance", "--refine": "refine"}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "translate", """
        DDIM-invert the photo under its class (--source-class) to --depth, then regenerate it under --class with
        classifier-free guidance that steers away from the source (DDIB, Su et al. 2022): the pose and layout stay,
        the class changes. Writes input.png, result.png and metrics.json (PSNR / SSIM / layout SSIM to the input,
        cat-face confidence, timings, every option).""", run)
    p.add_argument("photo", type=Path, help="a photo (centre-cropped to a square, or --face)")
    p.add_argument("--model", default="default",
                   help="'default' (our class-conditional DDPM, weights/ddpm-cats64), a folder of ours, or a Stable "
                        "Diffusion model (folder, hub id or known name), whose classes are prompts")
    for flag, name in FLAGS.items():
        add_flag(p, flag, TranslateOptions.limit(name), dest=name)
    p.add_argument("--face", action="store_true",
                   help="find the cat face (OpenCV), translate that crop and paste it back into the photo")
    add_device_flag(p)
    add_out_flag(p)


def run(args: argparse.Namespace) -> int:
    from ..diffusion.engine import DiffusionEngine
    from .common import tqdm_progress
    engine = DiffusionEngine(args.model, device=args.device)
    options = {name: getattr(args, name) for name in FLAGS.values() if getattr(args, name) is not None}
    progress, bar = tqdm_progress("translating")
    with bar:
        result = engine.translate(args.photo, face=args.face, progress=progress, **options)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    result.images[0].save(out / "input.png")
    result.images[1].save(out / "result.png")
    files = ["input.png", "result.png", "metrics.json"]
    write_json({"metrics": result.metrics, "timings": result.timings, "options": result.options, "files": files},
               out / "metrics.json")
    m, o = result.metrics, result.options
    print(f"{o['source_class']} → {o['class_name']} (depth {o['strength']:g}, guidance {o['guidance']:g}): PSNR "
          f"{m['psnr'][0]:.1f} dB, layout SSIM {m['layout_ssim'][0]:.2f}, cat face "
          f"{'found' if m['holds_face'][0] else 'NOT found'}; {result.timings['total']:.1f} s; wrote "
          f"{', '.join(files)} to {out}")
    for warning in m.get("warnings") or []:
        print(f"  warning: {warning}")
    return 0
