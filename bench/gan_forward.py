"""Generator speed: ms per forward and per forward+backward at batch 1 and 8, for 64/128/256 px.

    python -m bench.gan_forward [--device cpu|cuda] [--repeats 5] [--out bench/results/gan_forward.json]

The networks use the architecture of our shipped models (`NEW_RUN_DEFAULTS`: z = w = 128, channel_base 2048,
channel_max 128) scaled to each resolution, plus the DCGAN; weights are random (speed does not depend on them).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from engines.base import pick_device
from engines.stylegan.checkpoints import NEW_RUN_DEFAULTS, build_generator


def _time(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def bench(arch: str, res: int, batch: int, device: torch.device, repeats: int) -> dict:
    G = build_generator(arch, {**NEW_RUN_DEFAULTS[arch], "img_resolution": res}).to(device).eval()
    z = torch.randn(batch, G.z_dim, device=device)

    def forward():
        with torch.no_grad():
            G(z)

    def forward_backward():
        latent = z.clone().requires_grad_(True)
        G(latent).square().mean().backward()

    return {"arch": arch, "res": res, "batch": batch, "params": sum(p.numel() for p in G.parameters()),
            "fwd_ms": _time(forward, repeats, device), "fwd_bwd_ms": _time(forward_backward, repeats, device)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--resolutions", type=int, nargs="+", default=[64, 128, 256])
    p.add_argument("--out", type=Path, default=Path("bench/results/gan_forward.json"))
    args = p.parse_args(argv)
    device = pick_device(args.device)
    torch.manual_seed(0)
    rows = [bench(arch, res, batch, device, args.repeats)
            for arch in ("stylegan2", "dcgan") for res in args.resolutions for batch in (1, 8)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"
    print(f"\nGenerator speed on {device} ({name}), torch {torch.__version__}, median of {args.repeats}")
    print(f"| arch | res | batch | params | forward ms | forward+backward ms |")
    print(f"|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['arch']} | {r['res']} | {r['batch']} | {r['params'] / 1e6:.2f} M | {r['fwd_ms']:.1f} | {r['fwd_bwd_ms']:.1f} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"device": str(device), "device_name": name, "torch": torch.__version__,
                                    "rows": rows}, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
