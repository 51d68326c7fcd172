"""``python -m engines directions`` (find latent directions) and ``python -m engines edit`` (move along one).

``edit --direction`` takes a NAME in the model folder's ``directions/`` or a file: Latent Studio ``.npz``,
InterFaceGAN ``.npy`` ([1, dim] or [dim]), e4e/PTI/HyperStyle ``.pt``/``.pth`` tensors, STIT-style per-layer
``.npy``/``.pt`` ([num_ws, dim]), or a GANSpace ``.npz`` with ``--component N``. A GANSpace named edit
(component, first layer, last layer, strength) is ``--component C --layers FIRST-LAST --strength S``
(FIRST-LAST includes LAST; S in standard deviations). Files are read as data only, never as code.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..base import LatentStudioError
from ..options import add_flag
from ..stylegan.options import EditOptions
from .common import add_command, add_gan_flags, add_out_flag, add_photo_flags, gan_engine, positive_int, write_json

PREVIEW_STRENGTHS = [-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0]
MAX_STRIP = 64  # images in an edit strip


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "directions", """
        Find editing directions for a GAN and write one .npz per direction, a preview strip per direction
        (strengths -3..3 on one seeded sample) and directions.json. Put them in MODEL/directions/ to use them by
        name.""", run_directions)
    add_gan_flags(p)
    p.add_argument("--method", choices=["sefa", "ganspace", "examples"], required=True,
                   help="sefa: closed-form from the style weights (StyleGAN2 only); ganspace: PCA of sampled w "
                        "(of z for DCGAN); examples: linear boundary between --pos and --neg examples (InterFaceGAN)")
    p.add_argument("--k", type=positive_int, default=8, help="number of directions for sefa/ganspace (default: 8)")
    p.add_argument("--layers", default="all",
                   help="w+ rows: coarse, middle, fine, all, 'a:b' (b excluded) or 'a-b' (b included). sefa "
                        "factorises only these layers' weights; every method uses them for the preview (default: all)")
    p.add_argument("--samples", type=positive_int, default=10_000,
                   help="ganspace: number of sampled latents for the PCA (default: 10000)")
    p.add_argument("--seed", type=int, default=0, help="seed for ganspace sampling and the preview sample (default: 0)")
    p.add_argument("--pos", nargs="+", default=[], metavar="IMG_OR_NPZ",
                   help="examples: images or latent .npz files WITH the attribute (images are inverted first)")
    p.add_argument("--neg", nargs="+", default=[], metavar="IMG_OR_NPZ",
                   help="examples: images or latent .npz files WITHOUT the attribute")
    p.add_argument("--name", default="attribute", help="examples: the direction's name and file name (default: attribute)")
    p.add_argument("--invert-steps", type=positive_int, default=300,
                   help="optimisation steps when inverting example images (default: 300)")
    add_out_flag(p)

    e = add_command(sub, "edit", """
        Edit a latent (.npz) or an image (inverted into w+ first) along a direction, writing a strip over strengths
        linspace(-S, S, STEPS), each image, the edited latents (.npz) and metrics.json (pixel change per strength).
        Direction files: Latent Studio .npz; InterFaceGAN .npy [1, dim] or [dim]; e4e/PTI/HyperStyle .pt/.pth tensors
        [dim], [1, dim] (or a dict holding one tensor); STIT-style per-layer .npy/.pt [num_ws, dim] (row i moves w+
        row i); GANSpace .npz (lat_comp, lat_mean, lat_stdev) with --component. They are read as data only (numpy
        without pickle, torch tensors only): a file holding anything else is refused, never run. Vectors are
        normalised, so S is a distance in w (per-layer: root-mean-square row norm 1). GANSpace named edit (component,
        first layer, last layer, strength), e.g. component 3 on layers 0 to 5 at 2 standard deviations: --direction
        ganspace.npz --component 3 --layers 0-5 --strength 2.""", run_edit)
    e.add_argument("source", metavar="LATENT|IMAGE", help="a latent .npz of this model, or an image to invert")
    e.add_argument("--direction", required=True, metavar="NAME|FILE",
                   help="a direction file (.npz, .npy, .pt, .pth; see above), or a NAME in the model folder's "
                        "directions/")
    e.add_argument("--component", type=int, default=None, metavar="N",
                   help="GANSpace .npz only: the principal component to edit along (0-based, as in GANSpace); "
                        "--strength is then in standard deviations of that component (lat_stdev[N])")
    add_flag(e, "--strength", EditOptions.limit("strength"))
    e.add_argument("--steps", type=positive_int, default=5, help="number of images in the strip, 2-64 (default: 5)")
    e.add_argument("--layers", default="all",
                   help="w+ rows to edit: coarse, middle, fine, all, 'a:b' (rows a to b-1, Python-style) or 'a-b' "
                        "(rows a to b INCLUSIVE, GANSpace's first-last: 0-5 is 0:6) (default: all)")
    e.add_argument("--condition", nargs="+", default=None, metavar="NAME|FILE",
                   help="direction(s) to keep fixed: their component is removed from the edit (conditional editing)")
    e.add_argument("--invert-steps", type=positive_int, default=300,
                   help="optimisation steps when the source is an image (default: 300)")
    add_gan_flags(e)
    add_photo_flags(e, then="paste each edited result back into the photo")
    add_out_flag(e)


def _layers(engine, text: str):
    if text.strip().lower() == "all":
        return None
    if not engine.has_layers:
        raise LatentStudioError(f"{engine.arch} has no w+ layers; leave --layers out.")
    engine.layer_range(text)  # fail before anything is written
    return text


def run_directions(args: argparse.Namespace) -> int:
    from .. import imaging
    from ..stylegan import editing
    engine = gan_engine(args)
    layers = _layers(engine, args.layers)
    if args.method == "sefa":
        found = engine.directions("sefa", k=args.k, layers=layers or "all")
    elif args.method == "ganspace":
        found = engine.directions("ganspace", k=args.k, n_samples=args.samples, seed=args.seed)
    else:
        if not args.pos or not args.neg:
            raise LatentStudioError("--method examples needs both --pos and --neg examples.")
        found = [editing.from_example_images(engine, args.pos, args.neg, args.name,
                                          invert_options={"steps": args.invert_steps, "seed": args.seed})]
    sample = engine.latent_record(engine.random_z(1, args.seed), "z")
    summary = []
    for d in found:
        path = editing.save_direction(d, args.out)
        result = editing.edit(engine, sample, d, PREVIEW_STRENGTHS, layers=layers)
        preview = args.out / f"{d.name}_preview.png"
        imaging.make_grid(result.images, nrow=len(result.images)).save(preview)
        summary.append({"name": d.name, "method": d.method, "space": d.space, "fingerprint": d.fingerprint,
                        "file": path.name, "preview": preview.name, "preview_strengths": PREVIEW_STRENGTHS,
                        "preview_pixel_change": result.metrics["pixel_change"], "meta": d.meta})
    write_json({"model": args.model, "arch": engine.arch, "fingerprint": engine.fingerprint,
                "method": args.method, "layers": args.layers, "directions": summary}, args.out / "directions.json")
    print(f"wrote {len(found)} direction(s) to {args.out}")
    return 0


def run_edit(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import imaging
    from ..stylegan import editing
    from ..stylegan.latents import save_latents
    if args.steps < 2 or args.steps > MAX_STRIP:
        raise LatentStudioError(f"--steps (images in the strip from -S to S) must be between 2 and {MAX_STRIP}, "
                                f"got {args.steps}.")
    engine = gan_engine(args)
    strengths = [float(s) for s in np.linspace(-args.strength, args.strength, args.steps)]
    layers = _layers(engine, args.layers)
    direction = args.direction
    if args.component is not None:  # a GANSpace component; --layers gives its rows, --strength its stdevs
        direction = editing.load_direction(args.direction, engine, component=args.component)
    result = editing.edit(engine, args.source, direction, strengths, layers=layers,
                       condition=args.condition, invert_options={"steps": args.invert_steps}, face=args.face,
                           pti_steps=args.pti)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    imaging.make_grid(result.images, nrow=len(result.images)).save(out / "strip.png")
    for i, img in enumerate(result.images):
        img.save(out / f"edit_{i:02d}.png")
    save_latents(out / "latents.npz", result.latents)
    write_json({"metrics": result.metrics, "timings": result.timings, "options": result.options}, out / "metrics.json")
    print(f"wrote {len(result.images)} edited image(s), strip.png, latents.npz and metrics.json to {out}")
    return 0
