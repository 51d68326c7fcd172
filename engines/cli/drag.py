"""``python -m engines drag``: DragGAN-style point editing of a sample, a latent or a photo."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..options import add_flag
from ..stylegan.options import DragConfig
from .common import add_command, add_gan_flags, add_out_flag, add_photo_flags, gan_engine, tqdm_progress, write_json

#: DragConfig fields → their flags (ranges and defaults come from the dataclass)
FLAGS = {"--steps": "steps", "--lr": "lr", "--rows": "rows", "--r1": "r1", "--r2": "r2",
         "--mask-weight": "mask_weight", "--stop-distance": "stop_distance", "--frames": "frames",
         "--feature-edit": "feature_edit", "--feature-res": "feature_res", "--feature-sigma": "feature_sigma"}


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "drag", """
        Move handle points toward target points while StyleGAN2 keeps the image a cat: motion supervision on the
        synthesis features and point tracking (DragGAN, Pan et al. 2023). Writes before.png, after.png, drag.gif, the
        latent (.npz) and metrics.json (the handles' path, distances before and after).""", run)
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("photo", nargs="?", default=None, help="a photo to invert first (or use --seed / --latent)")
    start.add_argument("--seed", type=int, default=None, help="drag a sample of the model (ψ --truncation)")
    start.add_argument("--latent", type=Path, default=None, help="drag a latent .npz (from invert, edit, drag)")
    p.add_argument("--points", required=True,
                   help="handle:target pairs in the model's pixels, 'x0,y0:x1,y1[;x0,y0:x1,y1…]' (0 to resolution-1)")
    p.add_argument("--mask", type=Path, default=None, help="an image, white where the image may change")
    p.add_argument("--truncation", type=float, default=0.7, help="ψ of a --seed sample (default: 0.7)")
    add_gan_flags(p)
    add_photo_flags(p, then="paste the dragged face back into the photo")
    for flag, name in FLAGS.items():
        add_flag(p, flag, DragConfig.limit(name))
    add_out_flag(p)


def run(args: argparse.Namespace) -> int:
    from ..imaging import save_animation
    from ..stylegan.dragging import parse_points
    from ..stylegan.latents import save_latents

    handles, targets = parse_points(args.points)
    engine = gan_engine(args)
    source = args.seed if args.seed is not None else (args.latent if args.latent is not None else args.photo)
    options = {name: getattr(args, name) for name in FLAGS.values() if getattr(args, name) is not None}
    progress, bar = tqdm_progress("dragging")
    with bar:
        result = engine.drag(source, handles, targets, args.mask, truncation=args.truncation, face=args.face,
                             pti_steps=args.pti, progress=progress, **options)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    result.images[0].save(out / "before.png")
    result.images[1].save(out / "after.png")
    files = ["before.png", "after.png", "drag.npz", "metrics.json"]
    save_latents(out / "drag.npz", result.latents)
    if result.frames:
        save_animation([result.images[0]] + result.frames, out / "drag.gif", fps=8)
        files.insert(2, "drag.gif")
    write_json({"metrics": result.metrics, "timings": result.timings, "options": result.options, "files": files},
               out / "metrics.json")
    m = result.metrics
    print(f"{'arrived' if m['arrived'] else 'stopped'} after {m['steps_run']} steps; distance to the targets "
          f"{m['distance_before']} → {m['distance_after']} px; cat face {'found' if m['holds_face'] else 'NOT found'}; "
          f"{result.timings['drag']:.1f} s; wrote {', '.join(files)} to {out}")
    for warning in m.get("warnings") or []:
        print(f"  warning: {warning}")
    return 0
