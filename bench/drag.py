"""How well dragging moves what it is asked to, measured independently of its own point tracker.

    python -m bench.drag [--samples 32] [--photos 8] [--steps 100] [--set NAME=VALUE …] [--out bench/results/drag.json]

``--set`` passes a `DragConfig` option through (e.g. ``--set feature_edit=warp --set rows=0``); the JSON records them.

On samples of the default StyleGAN2 (ψ 0.7) and held-out cat photos (inverted first: encoder + 75 steps with the
noise maps, as the Invert tab does), each image gets one sensible drag: a handle on an eye, an ear tip, the nose or
the chin (where they sit in the training framing) moved 4–8 px in a random direction. Reported: the tracked
distance to the target before and after (the drag's own tracker), the displacement **measured by dense optical
flow** (OpenCV Farneback between before and after, at 256 px) at the handle along the requested direction as a
share of the requested length, identity (distance in the discriminator's features between before and after), the
share of results the cat-face detector still finds a face in, and seconds per drag. Writes a figure of the first
drags (before with the arrow | after | the ceiling's image).

**The w+ ceiling.** What optimising w+ rows alone (the paper's algorithm, ``feature_edit=none``) can reach at all:
the before image is warped the way an ideal drag would move it (a Gaussian-weighted displacement, σ 6 px, the full
request at the handle), and the same rows are fitted to that warped image by plain pixel MSE (150 Adam steps from the
start latent). Its moves, by the same two measures, bound what a w+-only drag on this model can show; the warped image
itself reads 60–80 % by both, not 100 %, since the measures average a window around the handle. The default drag also
warps the 32 px block's features (`drag_features`, ``local``), which is how it goes past this ceiling.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engines import data as datasets
from engines import imaging
from engines.evaluation import cat_faces
from engines.stylegan.engine import GanEngine

#: where parts sit in a 64 px training-framed cat face (x, y)
LANDMARKS = {"left eye": (21, 27), "right eye": (43, 27), "left ear": (14, 7), "right ear": (50, 7),
             "nose": (32, 40), "chin": (32, 55)}


def flow_along(before: Image.Image, after: Image.Image, handle: tuple[float, float], target: tuple[float, float],
               resolution: int) -> float:
    """Farneback optical flow from ``before`` to ``after`` (both upscaled to 256 px), averaged over a 3×3 model-pixel
    window at the handle, projected on the requested direction, as a share of the requested length."""
    import cv2
    size = 256
    k = size / resolution
    a, b = (cv2.cvtColor(np.asarray(im.convert("RGB").resize((size, size), Image.BICUBIC)), cv2.COLOR_RGB2GRAY)
            for im in (before, after))
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 4, 21, 5, 7, 1.5, 0)   # [H, W, 2] in 256-px pixels
    cx, cy = int((handle[0] + 0.5) * k), int((handle[1] + 0.5) * k)
    r = int(1.5 * k)
    mean = flow[max(0, cy - r):cy + r + 1, max(0, cx - r):cx + r + 1].reshape(-1, 2).mean(0) / k  # model pixels
    want = np.asarray(target, dtype=np.float64) - np.asarray(handle, dtype=np.float64)
    return float(mean @ want / (want @ want))


def match_along(before: Image.Image, after: Image.Image, handle: tuple[float, float], target: tuple[float, float],
                resolution: int, half: int = 4, search: int = 12) -> float:
    """Where the (2·half+1)² patch around the handle in ``before`` best matches ``after`` (normalised
    cross-correlation, searched within ± ``search`` px, at 4× for quarter-pixel steps), projected on the requested
    direction, as a share of the requested length. Farneback's smooth flow sees a local move of a 14 px patch by 6 px
    as about 7 % of it (while a global shift reads 100 %), so this local measure is reported beside it."""
    import cv2
    k = 4
    a, b = (cv2.cvtColor(np.asarray(im.convert("RGB").resize((resolution * k,) * 2, Image.BICUBIC)), cv2.COLOR_RGB2GRAY)
            for im in (before, after))
    hx, hy = int(round(handle[0])), int(round(handle[1]))
    x0, y0 = max(0, hx - half) * k, max(0, hy - half) * k
    x1, y1 = min(resolution, hx + half + 1) * k, min(resolution, hy + half + 1) * k
    patch = a[y0:y1, x0:x1]
    sx0, sy0 = max(0, x0 - search * k), max(0, y0 - search * k)
    sx1, sy1 = min(b.shape[1], x1 + search * k), min(b.shape[0], y1 + search * k)
    scores = cv2.matchTemplate(b[sy0:sy1, sx0:sx1], patch, cv2.TM_CCOEFF_NORMED)
    _, _, _, (mx, my) = cv2.minMaxLoc(scores)
    moved = np.array([(sx0 + mx - x0) / k, (sy0 + my - y0) / k])
    want = np.asarray(target, dtype=np.float64) - np.asarray(handle, dtype=np.float64)
    return float(moved @ want / (want @ want))


def ideal_warp(image: Image.Image, handle: tuple[float, float], target: tuple[float, float],
               sigma: float = 6.0) -> Image.Image:
    """``image`` with the content around ``handle`` moved toward ``target``: displacement (target − handle) weighted by
    a Gaussian of ``sigma`` px around the handle (a smooth, local drag done by hand)."""
    import cv2
    a = np.asarray(image.convert("RGB"))
    h, w = a.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weight = np.exp(-((xx - handle[0]) ** 2 + (yy - handle[1]) ** 2) / (2 * sigma ** 2))
    dx, dy = target[0] - handle[0], target[1] - handle[1]
    out = cv2.remap(a, (xx - dx * weight).astype(np.float32), (yy - dy * weight).astype(np.float32), cv2.INTER_CUBIC,
                    borderMode=cv2.BORDER_REFLECT)
    return Image.fromarray(out)


def ceiling(engine: GanEngine, record: dict, warped: Image.Image, rows: int, steps: int = 150) -> Image.Image:
    """The drag's start latent with its first ``rows`` w+ rows fitted to ``warped`` by pixel MSE (its noise maps kept)."""
    from engines.stylegan.dragging import _start
    _, eng, ws, noise, _, _ = _start(engine, record, 0.7, False, 0, None, None)
    target = imaging.to_tensor([warped], device=eng.device)
    moving = ws[:, :rows].detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([moving], lr=0.01)
    for _ in range(steps):
        img = eng.G.synthesis(torch.cat([moving, ws[:, rows:]], dim=1), noise_mode="const", noise=noise)
        loss = torch.nn.functional.mse_loss(img, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return imaging.to_pil(img.detach().clamp(-1, 1))[0]


def parse_set(text: str) -> tuple[str, object]:
    """"NAME=VALUE" → (NAME, VALUE as an int, a float or the text), checked against `DragConfig`'s fields."""
    from engines.stylegan.options import DragConfig
    name, sep, value = text.partition("=")
    if not sep or name not in DragConfig.limits():
        raise SystemExit(f"--set wants NAME=VALUE with NAME one of {sorted(DragConfig.limits())}, got {text!r}")
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=32)
    p.add_argument("--photos", type=int, default=8)
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--ceiling-steps", type=int, default=150, help="0 = skip the ceiling")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", dest="sets",
                   help="a DragConfig option for every drag (repeatable)")
    p.add_argument("--out", type=Path, default=Path("bench/results/drag.json"))
    args = p.parse_args(argv)
    options = dict(parse_set(s) for s in args.sets)
    engine = GanEngine("default", device="cpu")
    res = engine.resolution
    rng = np.random.default_rng(0)
    starts: list[tuple[str, dict]] = [(f"sample {s}", engine.random_latent(s, 0.7)) for s in range(args.samples)]
    if args.photos and args.cats.is_dir():
        _, val = datasets.split(datasets.list_images(args.cats), 0.05)
        photos = [imaging.load_image(f) for f in val[:args.photos]]
        inv = engine.invert(photos, steps=75)
        for i in range(len(photos)):
            record = {k: (v[i:i + 1] if k == "latent" or (k.startswith("noise") and np.ndim(v) == 4) else v)
                      for k, v in inv.latents.items()}
            starts.append((f"photo {i}", record))
    distance = engine.feature_distance()
    rows, figure = [], []
    for name, record in starts:
        part = list(LANDMARKS)[int(rng.integers(len(LANDMARKS)))]
        hx, hy = LANDMARKS[part]
        angle, length = rng.uniform(0, 2 * np.pi), rng.uniform(4, 8)
        tx = float(np.clip(round(hx + length * np.cos(angle)), 0, res - 1))
        ty = float(np.clip(round(hy + length * np.sin(angle)), 0, res - 1))
        t0 = time.perf_counter()
        result = engine.drag(record, [[hx, hy]], [[tx, ty]], steps=args.steps, frames=0, **options)
        seconds = time.perf_counter() - t0
        before, after = result.images
        m = result.metrics
        bt, at = imaging.to_tensor(before), imaging.to_tensor(after)
        best = None
        if args.ceiling_steps:
            import math
            best = ceiling(engine, record, ideal_warp(before, (hx, hy), (tx, ty)), math.ceil(engine.G.num_ws / 3),
                           args.ceiling_steps)
        rows.append({"start": name, "part": part, "handle": [hx, hy], "target": [tx, ty],
                     "tracked_before": m["distance_before"][0], "tracked_after": m["distance_after"][0],
                     "flow_share": flow_along(before, after, (hx, hy), (tx, ty), res),
                     "match_share": match_along(before, after, (hx, hy), (tx, ty), res),
                     "identity": float(distance.paired(bt, at)[0]),
                     "face_before": bool(cat_faces.confidence(bt)[0] >= cat_faces.MIN_CONFIDENCE),
                     "holds_face": bool(cat_faces.confidence(at)[0] >= cat_faces.MIN_CONFIDENCE),
                     "ceiling_flow_share": flow_along(before, best, (hx, hy), (tx, ty), res) if best else None,
                     "ceiling_match_share": match_along(before, best, (hx, hy), (tx, ty), res) if best else None,
                     "steps": m["steps_run"], "seconds": seconds})
        if len(figure) < 24:
            from demo.drag_tab import draw_points  # the app's own arrows
            figure += [draw_points(before, [[hx, hy], [tx, ty]], res).resize((128, 128)), after.resize((128, 128))]
            figure += [best.resize((128, 128))] if best else []
        print(f"{name:>10} {part:>9}: tracked {rows[-1]['tracked_before']:.1f} → {rows[-1]['tracked_after']:.1f} px, "
              f"flow {rows[-1]['flow_share']:.2f}, patch match {rows[-1]['match_share']:.2f} of the request, face {rows[-1]['face_before']} → {rows[-1]['holds_face']}, {seconds:.1f} s",
              flush=True)

    def summary(subset: list[dict]) -> dict:
        ceil = {k: float(np.mean([r[k] for r in subset])) for k in ("ceiling_flow_share", "ceiling_match_share")
                if subset[0][k] is not None}
        return {**ceil, "n": len(subset), "tracked_before": float(np.mean([r["tracked_before"] for r in subset])),
                "tracked_after": float(np.mean([r["tracked_after"] for r in subset])),
                "flow_share": float(np.mean([r["flow_share"] for r in subset])),
                "match_share": float(np.mean([r["match_share"] for r in subset])),
                "identity": float(np.mean([r["identity"] for r in subset])),
                "holds_face": float(np.mean([r["holds_face"] for r in subset])),
                # of the drags whose start holds a face (a dark or odd start the detector misses is not the drag's loss)
                "face_kept": float(np.mean([r["holds_face"] for r in subset if r["face_before"]] or [np.nan])),
                "seconds": float(np.mean([r["seconds"] for r in subset]))}
    groups = {"samples": [r for r in rows if r["start"].startswith("sample")],
              "photos": [r for r in rows if r["start"].startswith("photo")], "all": rows}
    table = {k: summary(v) for k, v in groups.items() if v}
    print(f"\nDrag bench: {len(rows)} drags of 4–8 px, ≤ {args.steps} steps (CPU), options {options}")
    print("| starts | n | tracked distance before → after (px) | optical-flow move along the request | patch-match move "
          "along the request | identity (D features) | cat face after (of those with one before) | s / drag | w+ ceiling: flow / patch match |\n"
          "|---|---|---|---|---|---|---|---|---|")
    for k, v in table.items():
        print(f"| {k} | {v['n']} | {v['tracked_before']:.1f} → {v['tracked_after']:.1f} | {v['flow_share']:.0%} | "
              f"{v['match_share']:.0%} | "
              f"{v['identity']:.3f} | {v['holds_face']:.0%} ({v['face_kept']:.0%}) | {v['seconds']:.1f} | "
              f"{v.get('ceiling_flow_share', float('nan')):.0%} / {v.get('ceiling_match_share', float('nan')):.0%} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"steps": args.steps, "options": options, "rows": rows, "summary": table}
    args.out.write_text(json.dumps(record, indent=2))
    if figure:
        imaging.make_grid(figure, nrow=9 if args.ceiling_steps else 8).save(args.out.with_suffix(".png"))
    return record


if __name__ == "__main__":
    torch.set_grad_enabled(True)
    main()
