"""Class translation (DDIB on the default DDPM) beside the GAN's `grumpy` edit, on held-out cat photos.

    python -m bench.translate [--photos 16] [--settings 0.8:2,0.9:2,1.0:2] [--gan-strength 4] [--out bench/results/translate.json]

Every photo is a held-out cat photo (never trained on, 64 px face crops). Reported per method:
- **round trip** (diffusion only): DDIM-invert under `cat` at depth 1 (pure noise), regenerate under `cat`, guidance
  1, 50 steps; PSNR to the photo, without and with the inversion's fixed-point refinement;
- for each translation setting (depth : guidance) and the GAN (encoder + 75-step inversion with noise maps, then the
  `grumpy` direction at ``--gan-strength``): PSNR / SSIM to the photo, the layout kept (SSIM of blurred greyscale,
  `evaluation.layout`), the move toward Grumpy Cat — patch SWD (×10³, mean of the 64/32/16 px levels) of the results
  to the held-out Grumpy-Cat photos, beside the input photos' own SWD to them, and the distance to those photos in
  the GAN discriminator's features (`PhotoDistance` fitted to them: 1 ≈ a typical Grumpy-Cat photo) — the share
  still holding a cat face (OpenCV's detector), and seconds per photo.
Writes the table to stdout, the numbers to ``--out`` and a figure (photo | each method) beside it.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from engines import data as datasets
from engines import imaging
from engines.evaluation import cat_faces
from engines.evaluation.faithfulness import reconstruction
from engines.evaluation.layout import layout_ssim
from engines.evaluation.photo_distance import PhotoDistance
from engines.evaluation.swd import sliced_wasserstein

GRUMPY_HELD_OUT = 0.1  # the DDPM's held-out share of the Grumpy-Cat photos (its model card)


def swd_to(images: torch.Tensor, reference: torch.Tensor) -> float:
    return sliced_wasserstein(images, reference, patches=8192, directions=256, repeats=2)["avg"]


def measure(results: torch.Tensor, photos: torch.Tensor, grumpy: torch.Tensor, to_grumpy: PhotoDistance,
            seconds: list[float]) -> dict:
    rec = reconstruction(results, photos)
    face = cat_faces.confidence(results) >= cat_faces.MIN_CONFIDENCE
    return {"psnr": float(np.mean(rec["psnr"])), "ssim": float(np.mean(rec["ssim"])),
            "layout_ssim": float(np.mean(layout_ssim(results, photos))), "swd_to_grumpy": swd_to(results, grumpy),
            "grumpy_distance": float(to_grumpy.distance(results).mean()), "holds_face": float(face.float().mean()),
            "seconds": float(np.mean(seconds))}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--photos", type=int, default=16)
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--grumpy", type=Path, default=Path("../shared/data/grumpy"))
    p.add_argument("--settings", default="0.8:2,0.9:2,1.0:2", help="depth:guidance pairs to translate with")
    p.add_argument("--refine", type=int, default=None, help="fixed-point iterations (default: TranslateOptions')")
    p.add_argument("--gan-strength", type=float, default=4.0, help="0 = skip the GAN")
    p.add_argument("--skip-round-trip", action="store_true")
    p.add_argument("--round-trip-depths", default="1.0", help="depths the round trip is measured at")
    p.add_argument("--round-trip-refines", default="0,1,2,3", help="fixed-point iterations the round trip is measured with")
    p.add_argument("--write-reference", action="store_true",
                   help="save the held-out Grumpy-Cat photos' features as the GAN's grumpy_features.npz (what "
                        "`compare --edit grumpy` and the GAN vs Diffusion tab measure the move toward)")
    p.add_argument("--out", type=Path, default=Path("bench/results/translate.json"))
    args = p.parse_args(argv)
    from engines.diffusion.engine import DiffusionEngine
    from engines.stylegan.engine import GanEngine
    diffusion = DiffusionEngine("default", device="cpu")
    gan = GanEngine("default", device="cpu")
    res = diffusion.resolution
    _, val = datasets.split(datasets.list_images(args.cats), 0.05)
    files = val[:args.photos]
    photos_pil = [imaging.center_crop_resize(imaging.load_image(f), res) for f in files]
    photos = imaging.to_tensor(photos_pil)
    grumpy = datasets.load_split(args.grumpy, res, GRUMPY_HELD_OUT, "val").float() / 127.5 - 1
    D = gan.bundle.D.eval().requires_grad_(False)
    to_grumpy = PhotoDistance.fit(grumpy, D.features, gan.fingerprint)
    if args.write_reference:
        from engines.compare_edits import TARGETS
        print("wrote", to_grumpy.save(gan.bundle.folder / TARGETS["grumpy"][1]))
    own = {"swd_to_grumpy": swd_to(photos, grumpy), "grumpy_distance": float(to_grumpy.distance(photos).mean()),
           "holds_face": float((cat_faces.confidence(photos) >= cat_faces.MIN_CONFIDENCE).float().mean())}
    print(f"{len(files)} held-out cat photos, {len(grumpy)} held-out Grumpy-Cat photos; the photos' own SWD to them "
          f"{own['swd_to_grumpy']:.1f}, D-feature distance {own['grumpy_distance']:.2f}", flush=True)
    record: dict = {"photos": [str(f) for f in files], "own": own, "methods": {}}
    refine = {} if args.refine is None else {"refine": args.refine}
    if not args.skip_round_trip:
        for depth in (float(v) for v in args.round_trip_depths.split(",")):
            for k in (int(v) for v in args.round_trip_refines.split(",")):
                psnrs, secs = [], []
                for im in photos_pil:
                    t0 = time.perf_counter()
                    r = diffusion.translate(im, class_name="cat", source_class="cat", strength=depth, guidance=1.0,
                                            refine=k)
                    secs.append(time.perf_counter() - t0)
                    psnrs.append(r.metrics["psnr"][0])
                record[f"round_trip_depth{depth:g}_refine{k}"] = {
                    "psnr": float(np.mean(psnrs)), "psnr_min": float(np.min(psnrs)), "seconds": float(np.mean(secs))}
                print(f"round trip (depth {depth:g}, guidance 1, refine {k}): PSNR {np.mean(psnrs):.1f} dB (min "
                      f"{np.min(psnrs):.1f}), {np.mean(secs):.1f} s", flush=True)
    figure = [photos_pil]
    for setting in [s for s in args.settings.split(",") if s]:
        depth, guidance = (float(v) for v in setting.split(":"))
        out, secs = [], []
        for im in photos_pil:
            t0 = time.perf_counter()
            r = diffusion.translate(im, class_name="grumpy cat", strength=depth, guidance=guidance, **refine)
            secs.append(time.perf_counter() - t0)
            out.append(r.images[1])
        name = f"translate depth {depth:g}, guidance {guidance:g}"
        record["methods"][name] = measure(imaging.to_tensor(out), photos, grumpy, to_grumpy, secs)
        figure.append(out)
        print(name, {k: round(v, 3) for k, v in record["methods"][name].items()}, flush=True)
    if args.gan_strength:
        out, secs = [], []
        for im in photos_pil:
            t0 = time.perf_counter()
            r = gan.edit(im, "grumpy", [args.gan_strength], invert_options={"steps": 75})
            secs.append(time.perf_counter() - t0)
            out.append(r.images[-1])
        name = f"GAN: invert + grumpy × {args.gan_strength:g}"
        record["methods"][name] = measure(imaging.to_tensor(out), photos, grumpy, to_grumpy, secs)
        figure.append(out)
        print(name, {k: round(v, 3) for k, v in record["methods"][name].items()}, flush=True)
    print(f"\n| method | PSNR | SSIM | layout SSIM | SWD to Grumpy photos (photos: {own['swd_to_grumpy']:.1f}) | "
          f"D distance to Grumpy photos (photos: {own['grumpy_distance']:.2f}) | cat face | s / photo |")
    print("|---|---|---|---|---|---|---|---|")
    for name, m in record["methods"].items():
        print(f"| {name} | {m['psnr']:.1f} | {m['ssim']:.2f} | {m['layout_ssim']:.2f} | {m['swd_to_grumpy']:.1f} "
              f"({m['swd_to_grumpy'] / own['swd_to_grumpy'] - 1:+.0%}) | {m['grumpy_distance']:.2f} | "
              f"{m['holds_face']:.0%} | {m['seconds']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2))
    rows = [im.resize((96, 96)) for i in range(min(8, len(photos_pil))) for col in figure for im in [col[i]]]
    imaging.make_grid(rows, nrow=len(figure)).save(args.out.with_suffix(".png"))
    return record


if __name__ == "__main__":
    main()
