"""How good are our GANs? Sample realism, held-out reconstruction and a copying check, as tables.

    python -m bench.gan_quality --models weights/stylegan2-cats64 weights/dcgan-cats64 \
        [--data ../shared/data/cats] [--val-fraction 0.05] [--samples 2000] [--invert 50] [--steps 300]

1. Sliced Wasserstein distance (Laplacian-pyramid patches, ×1000, per level and mean) between each
   image set and the held-out validation photos. Two reference rows come from the same run: another
   split of real photos (the floor any generator can reach) and blurred real photos (a yardstick: a
   model that gets layout and colour right but no fine detail).
2. Held-out reconstruction: invert ``--invert`` validation photos (w+ for StyleGAN2, z for DCGAN),
   ``--steps`` Adam steps, PSNR / SSIM — how much of real cat space the generator can reach.
3. Copying check: for 16 samples, the nearest training photo (RMS pixel distance) next to the same
   distance for unseen validation photos; a grid of sample / nearest pairs is written next to the JSON.
4. Black and broken frames (issue 16: none at ψ 0.7 in a 64-sample grid), counted instead of eyeballed:
   a sample is *dark* when its mean luminance is below that of 99 % of the validation photos, and *broken*
   when its realism score (`engines.evaluation.realism`) is 0, i.e. its patch statistics are farther from
   real photos' than every held-out photo's. Counted in the first 64 samples (written as a grid, flagged ones
   listed) and as a share of all ``--samples``, beside the share of *training photos* that are that dark: about
   1.8 % of the cat photos are, so a model true to its data puts a dark frame in most 64-sample grids.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from engines import data as datasets
from engines import imaging
from engines.evaluation.neighbours import nearest_neighbours
from engines.evaluation.realism import PatchRealism
from engines.evaluation.swd import blurred, sliced_wasserstein, subset
from engines.stylegan.engine import GanEngine


@torch.no_grad()
def generate(engine: GanEngine, n: int, psi: float, seed: int = 1, batch: int = 250) -> torch.Tensor:
    out = []
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, n, batch):
        z = torch.randn([min(batch, n - start), engine.G.z_dim], generator=gen).to(engine.device)
        out.append(engine.G(z, truncation_psi=psi, noise_mode="const").float().clamp(-1, 1).cpu())
    return torch.cat(out)


def swd_row(name: str, images: torch.Tensor, val: torch.Tensor, patches: int) -> dict:
    t0 = time.perf_counter()
    swd = sliced_wasserstein(images, val, patches=patches)
    return {"set": name, **{k: round(v, 2) for k, v in swd.items()}, "seconds": round(time.perf_counter() - t0, 1)}


def reconstruction(engine: GanEngine, val: torch.Tensor, n: int, steps: int) -> dict:
    photos = imaging.to_pil(subset(val, n, seed=3))
    space = "w+" if "w+" in engine.G.spaces else "z"
    t0 = time.perf_counter()
    result = engine.invert(photos, space=space, steps=steps, seed=0)
    seconds = time.perf_counter() - t0
    psnr, ssim = result.metrics["psnr"], result.metrics["ssim"]
    return {"space": space, "photos": len(photos), "steps": steps, "psnr_mean": round(statistics.mean(psnr), 2),
            "psnr_min": round(min(psnr), 2), "psnr_max": round(max(psnr), 2),
            "ssim_mean": round(statistics.mean(ssim), 3), "seconds_per_photo_batched": round(seconds / len(photos), 2),
            "examples": result.images[:8], "targets": photos[:8]}


def copying(engine: GanEngine, train: torch.Tensor, val: torch.Tensor, grid_path: Path) -> dict:
    samples = generate(engine, 16, 1.0, seed=7)
    idx, dist = nearest_neighbours(samples, train)
    _, val_dist = nearest_neighbours(subset(val, 64, seed=5), train)
    pairs = []
    for s, i in zip(imaging.to_pil(samples), idx.tolist()):
        pairs += [s, imaging.to_pil(train[i:i + 1])[0]]
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    imaging.make_grid(pairs, nrow=8).save(grid_path)
    return {"sample_nn_rms_mean": round(float(dist.mean()), 4), "sample_nn_rms_min": round(float(dist.min()), 4),
            "val_nn_rms_mean": round(float(val_dist.mean()), 4), "val_nn_rms_min": round(float(val_dist.min()), 4),
            "grid": str(grid_path)}


def luminance(images: torch.Tensor) -> torch.Tensor:
    """Mean luminance [N] in [0, 1] of images [N, 3, H, W] in [-1, 1] (Rec. 601 weights)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype).view(1, 3, 1, 1)
    return ((images.clamp(-1, 1) + 1) / 2 * weights).sum(dim=1).mean(dim=(1, 2))


def frame_flags(samples: torch.Tensor, val: torch.Tensor,
                realism: PatchRealism | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(dark [N] bool, broken [N] bool or None without realism statistics) for samples [N, 3, H, W]: dark =
    darker than 99 % of the validation photos; broken = realism score 0 (farther from real patch statistics
    than every held-out photo the score was calibrated on)."""
    dark = luminance(samples) < torch.quantile(luminance(val), 0.01)
    broken = realism.score(samples) <= 0 if realism is not None else None
    return dark, broken


def frames(samples: torch.Tensor, val: torch.Tensor, realism: PatchRealism | None, train_dark_pct: float, grid_path: Path,
           grid: int = 64, psi: float = 0.7) -> dict:
    """Dark and broken frames among ``samples`` [N, 3, H, W] (drawn at ``psi``): counted in the first ``grid``
    (written as a grid) and as a share of all, next to ``train_dark_pct``, the share of training photos below
    the same darkness line (the rate a model true to its data would match)."""
    n = len(samples)
    dark, broken = frame_flags(samples, val, realism)
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    imaging.make_grid(imaging.to_pil(samples[:grid]), nrow=8).save(grid_path)
    row = {"psi": psi, f"dark in {grid}": int(dark[:grid].sum()), f"dark of {n} %": round(100 * dark.float().mean().item(), 2),
           "train photos dark %": train_dark_pct}
    if broken is not None:
        row.update({f"broken in {grid}": int(broken[:grid].sum()),
                    f"broken of {n} %": round(100 * broken.float().mean().item(), 2)})
    return {**row, "dark_at": dark[:grid].nonzero().flatten().tolist(),
            "broken_at": [] if broken is None else broken[:grid].nonzero().flatten().tolist(), "grid": str(grid_path)}


def model_label(source: str) -> str:
    """A readable name: the folder name, or the run's name for a run's ``latest/`` snapshot."""
    path = Path(source)
    return (path.parent.name if path.name == "latest" else path.name) or source


def print_table(rows: list[dict], keys: list[str]) -> None:
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        print("| " + " | ".join(str(row.get(k, "")) for k in keys) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True, help="GAN sources (folders in our format, …)")
    p.add_argument("--data", default="../shared/data/cats")
    p.add_argument("--val-fraction", type=float, default=0.05)
    p.add_argument("--samples", type=int, default=2000)
    p.add_argument("--patches", type=int, default=16384, help="patches per pyramid level and set")
    p.add_argument("--invert", type=int, default=50, help="validation photos to invert (0 = skip)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--device", default="auto")
    p.add_argument("--name", default=None, help="results name (default: from the data folder)")
    args = p.parse_args()

    name = args.name or f"gan_quality_{Path(args.data).name}"
    out_dir = Path("bench/results")
    train_u8 = datasets.load_split(args.data, 64, args.val_fraction, "train")
    val = datasets.to_float(datasets.load_split(args.data, 64, args.val_fraction, "val"))
    train = datasets.to_float(train_u8)
    reference = subset(train, args.samples, seed=11)
    print(f"data {args.data}: {len(train)} train / {len(val)} validation photos; {args.samples} samples per model\n")

    swd_rows = [swd_row("real (train split) — floor", reference, val, args.patches),
                swd_row("real, blurred — yardstick", blurred(reference), val, args.patches)]
    realism = PatchRealism.default()
    train_dark_pct = round(100 * frame_flags(train, val, None)[0].float().mean().item(), 2)
    recon_rows, copy_rows, frame_rows, recon_images = [], [], [], []
    for source in args.models:
        engine = GanEngine(source, device=args.device)
        label = model_label(source)
        samples = {psi: generate(engine, args.samples, psi) for psi in (1.0, 0.7)}
        for psi, images in samples.items():
            swd_rows.append(swd_row(f"{label} ψ={psi}", images, val, args.patches))
        if args.invert:
            rec = reconstruction(engine, val, args.invert, args.steps)
            recon_images += rec.pop("targets") + rec.pop("examples")
            recon_rows.append({"model": label, **rec})
        copy_rows.append({"model": label, **copying(engine, train, val, out_dir / f"{name}_{label}_nn.png")})
        frame_rows.append({"model": label, **frames(samples.pop(0.7), val, realism, train_dark_pct,
                                                           out_dir / f"{name}_{label}_psi0.7_64.png")})

    floor = swd_rows[0]["avg"]
    for row in swd_rows:
        row["× floor"] = round(row["avg"] / floor, 2)
    print("Sliced Wasserstein distance ×1000 to the validation photos (lower is better)")
    print_table(swd_rows, ["set"] + [k for k in swd_rows[0] if k not in ("set", "seconds", "× floor")]
                + ["× floor", "seconds"])
    if recon_rows:
        print(f"\nHeld-out reconstruction ({args.invert} validation photos, {args.steps} Adam steps)")
        print_table(recon_rows, list(recon_rows[0]))
        imaging.make_grid(recon_images, nrow=8).save(out_dir / f"{name}_reconstruction.png")
    print("\nCopying check: RMS pixel distance to the nearest training photo (samples vs unseen photos)")
    print_table(copy_rows, list(copy_rows[0]))
    print("\nBlack and broken frames at ψ 0.7, in the first 64 samples and as a share of all (dark: below 99 % of the "
          "validation photos' luminance; broken: realism 0, farther from real patch statistics than every held-out "
          "photo)")
    print_table(frame_rows, list(frame_rows[0]))

    record = {"data": args.data, "train": len(train), "val": len(val), "samples": args.samples,
              "swd": swd_rows, "reconstruction": recon_rows, "copying": copy_rows,
              "frames": frame_rows,
              "machine": {"platform": platform.platform(), "torch": torch.__version__,
                          "threads": torch.get_num_threads(), "device": str(engine.device)}}
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(record, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
