"""Inversion speed and quality: the seeds' comparison grid as tables.

    python -m bench.inversion [--model default] [--device auto] [--quick] [--photos DIR] [--out bench/results/inversion.json]

1. ms per step for each space × optimiser × perceptual network at batch 1 and 8 (unavailable
   networks, e.g. VGG16 offline, are listed with the reason), and batch-8 throughput vs 8 single runs.
2. Where a step's time goes (w+, Adam, disc): generator, perceptual network, pixel loss, optimiser.
3. PSNR after 100 / 300 / 1000 steps on images the model generated itself (known latent).
4. Time to invert real photos (``--photos``, e.g. a held-out split of ../shared/data/cats) in w+ with
   300 Adam steps: PSNR and seconds per photo, against the targets ≥ 24 dB in ≤ 5 s.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from engines.base import LatentStudioError
from engines.stylegan.engine import GanEngine
from engines.evaluation.faithfulness import masked_pixel_losses
from engines.stylegan.losses import make_perceptual
from engines.stylegan.projector import ProjectionConfig

SPACES = ("z", "w", "w+")
OPTIMIZERS = ("adam", "lbfgs")
PERCEPTUALS = ("none", "disc", "vgg16", "lpips")


def ms_per_step(engine: GanEngine, targets, space: str, optimizer: str, perceptual: str, steps: int) -> float:
    cfg = ProjectionConfig(space=space, optimizer=optimizer, perceptual=perceptual, steps=steps, frames=0,
                           perceptual_weight=0.1 if perceptual != "none" else 0.0)
    engine.project(targets, None, ProjectionConfig(**{**cfg.__dict__, "steps": 2}), seed=0)  # warm-up
    result = engine.project(targets, None, cfg, seed=0)
    return result.timings["per_step_ms"]


def breakdown(engine: GanEngine, targets, repeats: int = 10) -> dict[str, float]:
    """Per-part time of one w+ Adam step with the discriminator perceptual loss (ms)."""
    G, device = engine.G, engine.device
    perc = make_perceptual("disc", engine.bundle.D).to(device)
    w = engine.mean_w().view(1, 1, -1).repeat(targets.shape[0], G.num_ws, 1).requires_grad_(True)
    opt = torch.optim.Adam([w], lr=0.01)
    with torch.no_grad():
        y_feats = perc.features(targets)
    parts = {"generator fwd+bwd": [], "perceptual fwd+bwd": [], "pixel loss": [], "optimiser step": []}

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    for _ in range(repeats + 1):
        opt.zero_grad()
        sync(); t0 = time.perf_counter()
        img = G.synthesis(w)
        sync(); t1 = time.perf_counter()
        l1, l2 = masked_pixel_losses(img, targets, None)
        sync(); t2 = time.perf_counter()
        p = perc(img, targets, None, y_feats)
        sync(); t3 = time.perf_counter()
        img_grad = torch.autograd.grad((l2 + 0.1 * p).sum(), img, retain_graph=True)[0]
        sync(); t4 = time.perf_counter()
        img.backward(img_grad)
        sync(); t5 = time.perf_counter()
        opt.step()
        sync(); t6 = time.perf_counter()
        parts["generator fwd+bwd"].append((t1 - t0) + (t5 - t4))
        parts["pixel loss"].append(t2 - t1)
        parts["perceptual fwd+bwd"].append((t3 - t2) + (t4 - t3))
        parts["optimiser step"].append(t6 - t5)
    return {k: 1000 * statistics.median(v[1:]) for k, v in parts.items()}


def psnr_after(engine: GanEngine, targets, space: str, optimizer: str, steps: int) -> tuple[float, float]:
    cfg = ProjectionConfig(space=space, optimizer=optimizer, steps=steps, frames=0)
    r = engine.project(targets, None, cfg, seed=0)
    return statistics.mean(r.metrics["psnr"]), r.timings["total"]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="default")
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="fewer steps and configurations (about a minute)")
    p.add_argument("--photos", type=Path, default=None, help="folder of real photos for the time-to-quality table")
    p.add_argument("--n-photos", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path("bench/results/inversion.json"))
    args = p.parse_args(argv)
    engine = GanEngine(args.model, device=args.device)
    desc = engine.describe()
    device_name = torch.cuda.get_device_name(engine.device) if engine.device.type == "cuda" else \
        f"{platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"# Inversion benchmark: {desc.name} ({desc.source}) on {device_name}\n")
    targets = {b: engine.G(engine.random_z(b, seed=100)).detach().clamp(-1, 1) for b in (1, 8)}  # image range, like photos
    timing_steps = 4 if args.quick else 10
    results: dict = {"model": desc.as_dict(), "device": device_name, "ms_per_step": [], "psnr": [], "photos": []}

    print("## ms per step (batch 1 / batch 8; per-image speed-up of the batch)\n")
    print("| space | optimiser | perceptual | batch 1 ms | batch 8 ms | batch-8 throughput vs 8 singles |")
    print("|---|---|---|---:|---:|---:|")
    for space in SPACES:
        for opt in OPTIMIZERS:
            for perc in (("none", "disc") if args.quick else PERCEPTUALS):
                try:
                    t1 = ms_per_step(engine, targets[1], space, opt, perc, timing_steps)
                    t8 = ms_per_step(engine, targets[8], space, opt, perc, timing_steps)
                except LatentStudioError as exc:
                    print(f"| {space} | {opt} | {perc} | unavailable: {str(exc).split('(')[0].strip()} | | |")
                    continue
                results["ms_per_step"].append(dict(space=space, optimizer=opt, perceptual=perc, batch1=t1, batch8=t8))
                print(f"| {space} | {opt} | {perc} | {t1:.1f} | {t8:.1f} | {8 * t1 / t8:.2f}× |")

    print("\n## Where a step goes (w+, Adam, perceptual = disc), ms\n")
    print("| part | batch 1 | batch 8 |")
    print("|---|---:|---:|")
    b1, b8 = breakdown(engine, targets[1]), breakdown(engine, targets[8])
    results["breakdown"] = {"batch1": b1, "batch8": b8}
    for k in b1:
        print(f"| {k} | {b1[k]:.1f} | {b8[k]:.1f} |")
    print(f"| total | {sum(b1.values()):.1f} | {sum(b8.values()):.1f} |")

    step_list = (100, 300) if args.quick else (100, 300, 1000)
    print(f"\n## PSNR (dB) on 8 self-generated images after N steps (perceptual = disc)\n")
    print("| space | optimiser | " + " | ".join(f"{s} steps" for s in step_list) + " | seconds at the last |")
    print("|---|---|" + "---:|" * (len(step_list) + 1))
    for space in SPACES:
        for opt in OPTIMIZERS:
            row = []
            for s in step_list:
                steps = s if opt == "adam" else max(10, s // 5)  # L-BFGS: a fifth of the steps (each does a line search)
                psnr, seconds = psnr_after(engine, targets[8], space, opt, steps)
                row.append((steps, psnr, seconds))
            results["psnr"].append(dict(space=space, optimizer=opt, rows=row))
            label = opt if opt == "adam" else "lbfgs (steps/5)"
            print(f"| {space} | {label} | " + " | ".join(f"{p:.2f}" for _, p, _ in row) + f" | {row[-1][2]:.1f} |")

    if args.photos is not None:
        paths = sorted(args.photos.glob("*.jpg"))[: args.n_photos] + sorted(args.photos.glob("*.png"))[: args.n_photos]
        paths = paths[: args.n_photos]
        print(f"\n## Real photos ({len(paths)} from {args.photos}): w+, Adam, 300 steps, disc\n")
        print("| mode | PSNR dB (mean) | seconds per photo | ≥ 24 dB in ≤ 5 s |")
        print("|---|---:|---:|---|")
        single = [engine.invert([pth], steps=300) for pth in paths]
        s_psnr = statistics.mean(r.metrics["psnr"][0] for r in single)
        s_sec = statistics.mean(r.timings["total"] for r in single)
        batch = engine.invert(paths, steps=300)
        b_psnr, b_sec = statistics.mean(batch.metrics["psnr"]), batch.timings["total"] / len(paths)
        print(f"| one at a time | {s_psnr:.2f} | {s_sec:.2f} | {'yes' if s_psnr >= 24 and s_sec <= 5 else 'no'} |")
        print(f"| batch of {len(paths)} | {b_psnr:.2f} | {b_sec:.2f} | {'yes' if b_psnr >= 24 and b_sec <= 5 else 'no'} |")
        print(f"\nbatch throughput vs single runs: {s_sec / b_sec:.2f}×")
        results["photos"] = dict(single_psnr=s_psnr, single_seconds=s_sec, batch_psnr=b_psnr, batch_seconds=b_sec)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
