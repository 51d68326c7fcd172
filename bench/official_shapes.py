"""What to expect from NVIDIA-sized StyleGAN2 checkpoints: seconds per inversion step and per sample.

    python -m bench.official_shapes [--device cpu|cuda] [--shapes 256 1024] [--steps 3]
                                    [--out bench/results/official_shapes.json]

Builds generators and discriminators with the official configurations' shapes and random weights (speed
does not depend on the weights): ``paper256`` (256 px, channel_base 16384), ``afhq`` (512 px) and
``ffhq`` / ``metfaces`` (1024 px, channel_base 32768), all with z = w = 512 and 8 mapping layers, and
runs the real projector (`GanEngine.invert`, Adam, w+, pixel L2 with and without the discriminator
perceptual term) at batch 1, plus one sample. Prints a table and writes JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from engines.base import pick_device
from engines.stylegan.checkpoints import GanBundle, build_discriminator, build_generator
from engines.stylegan.engine import GanEngine

#: name → (resolution, channel_base): the official stylegan2-ada-pytorch configurations.
SHAPES = {256: ("paper256", 16384), 512: ("afhq", 32768), 1024: ("ffhq / metfaces", 32768)}


def engine_for(res: int, device: torch.device) -> GanEngine:
    base = SHAPES[res][1]
    g_cfg = dict(img_resolution=res, z_dim=512, w_dim=512, mapping_layers=8, channel_base=base, channel_max=512,
                 conv_clamp=256, num_fp16_res=4)
    d_cfg = dict(img_resolution=res, channel_base=base, channel_max=512, conv_clamp=256)
    torch.manual_seed(0)
    G, D = build_generator("stylegan2", g_cfg).eval(), build_discriminator("stylegan2", d_cfg).eval()
    config = {"arch": "stylegan2", "generator": G.config.as_dict(), "discriminator": D.config.as_dict()}
    return GanEngine(device=str(device), bundle=GanBundle(G=G, D=D, arch="stylegan2", source=f"random {res}px",
                                                          config=config))


def bench(res: int, device: torch.device, steps: int) -> dict:
    engine = engine_for(res, device)
    row = {"shape": SHAPES[res][0], "res": res, "device": str(device),
           "G_params_M": round(sum(p.numel() for p in engine.G.parameters()) / 1e6, 1)}
    engine.sample(1, seed=0)  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    target = engine.sample(1, seed=1)
    row["sample_s"] = round(time.perf_counter() - t, 3)
    for perceptual in ("none", "disc"):
        res_ = engine.invert(target, steps=steps, perceptual=perceptual, space="w+")
        row[f"step_s_{perceptual}"] = round(res_.timings["per_step_ms"] / 1000, 3)
    return row


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--shapes", type=int, nargs="+", default=[256, 1024], choices=sorted(SHAPES))
    p.add_argument("--steps", type=int, default=3, help="inversion steps timed per row (default: 3)")
    p.add_argument("--out", type=Path, default=Path("bench/results/official_shapes.json"))
    args = p.parse_args(argv)
    device = pick_device(args.device)
    rows = [bench(res, device, args.steps) for res in args.shapes]
    hardware = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    print(f"NVIDIA-shaped StyleGAN2 (random weights), batch 1, {hardware}")
    print("| shape | px | G params (M) | one sample (s) | inversion step, pixel loss (s) | step, + D perceptual (s) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['shape']} | {r['res']} | {r['G_params_M']} | {r['sample_s']} | {r['step_s_none']} | {r['step_s_disc']} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"hardware": hardware, "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
