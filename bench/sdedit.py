"""SDEdit speed: latency per image for scheduler × steps × strength on our default model, and the
engine's overhead against calling diffusers' stock img2img pipeline on a tiny Stable Diffusion.

    python -m bench.sdedit [--device cpu|cuda] [--quick] [--repeats 1] [--overhead-repeats 9]
                           [--schedulers ddpm ddim dpmsolver++ euler] [--steps 10 25 50]
                           [--strengths 0.3 0.6 0.9] [--out bench/results/sdedit.json]
    python -m bench.sdedit --show bench/results/sdedit.json     # print the tables of a results file

Part 1 uses the default pixel model's architecture (weights do not change speed; until trained it
is the untrained placeholder) at its default guidance (3.0: conditional and unconditional halves in
one batch of 2), one image, no previews. SDEdit runs int(steps × strength) denoising steps.
Part 2 times `DiffusionEngine.from_guide` and ``StableDiffusionImg2ImgPipeline.__call__`` on the same
components, interleaved (alternating which goes first), and compares medians.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engines.base import pick_device
from engines.diffusion import DiffusionEngine, make_scheduler
from engines.diffusion.strength import steps_run


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device: torch.device) -> float:
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return time.perf_counter() - start


def grid(engine: DiffusionEngine, args: argparse.Namespace) -> list[dict]:
    guide = Image.fromarray((np.random.RandomState(0).rand(64, 64, 3) * 255).astype(np.uint8))
    engine.from_guide(guide, seed=0, steps=4, strength=1.0, frames=0)  # warm-up
    rows = []
    for scheduler in args.schedulers:
        for steps in args.steps:
            for strength in args.strengths:
                def run():
                    return engine.from_guide(guide, seed=0, steps=steps, strength=strength, scheduler=scheduler,
                                             frames=0)
                times = [_timed(run, engine.device) for _ in range(args.repeats)]
                denoise = steps_run(steps, strength)
                seconds = statistics.median(times)
                rows.append({"scheduler": scheduler, "steps": steps, "strength": strength, "denoise_steps": denoise,
                             "seconds": seconds, "ms_per_step": 1000 * seconds / max(1, denoise)})
                print(f"  {scheduler:12s} steps {steps:3d} strength {strength:.1f}: {seconds:.3f} s", flush=True)
    return rows


def overhead(device: torch.device, args: argparse.Namespace) -> dict:
    from engines.diffusion.tiny import build_tiny_sd
    with tempfile.TemporaryDirectory() as tmp:
        build_tiny_sd(Path(tmp) / "tokenizer", sample_size=args.sd_latent).save_pretrained(Path(tmp) / "sd")
        engine = DiffusionEngine(str(Path(tmp) / "sd"), device=str(device))
    from diffusers import StableDiffusionImg2ImgPipeline
    stock = StableDiffusionImg2ImgPipeline(**engine.backend.img2img.components, requires_safety_checker=False)
    stock.scheduler = make_scheduler("ddim", engine.backend.scheduler_config)
    stock.set_progress_bar_config(disable=True)
    res = engine.resolution
    guide = Image.fromarray((np.random.RandomState(1).rand(res, res, 3) * 255).astype(np.uint8))
    kw = dict(steps=args.sd_steps, strength=0.6, guidance=7.5, prompt="a photo of a cat", scheduler="ddim")

    def ours():
        engine.from_guide(guide, seed=0, frames=0, **kw)

    def theirs():
        stock(prompt=kw["prompt"], image=guide, strength=kw["strength"], num_inference_steps=kw["steps"],
              guidance_scale=kw["guidance"], generator=[torch.Generator().manual_seed(0)])

    ours(), theirs()  # warm-up
    t_ours, t_stock = [], []
    for r in range(args.overhead_repeats):
        pair = [(ours, t_ours), (theirs, t_stock)]
        for fn, sink in (pair if r % 2 == 0 else pair[::-1]):
            sink.append(_timed(fn, device))
    m_ours, m_stock = statistics.median(t_ours), statistics.median(t_stock)
    return {"resolution": res, "steps": kw["steps"], "strength": kw["strength"],
            "denoise_steps": steps_run(kw["steps"], kw["strength"]),
            "repeats": args.overhead_repeats, "engine_s": m_ours, "stock_s": m_stock,
            "overhead_pct": 100 * (m_ours - m_stock) / m_stock}


def print_tables(result: dict) -> None:
    """Markdown tables of a results dict (as written to the JSON file)."""
    rows, over, model = result["rows"], result["overhead"], result["model"]
    strengths = sorted({r["strength"] for r in rows})
    print(f"\n### SDEdit latency per image: default model ({model['resolution']}×{model['resolution']}, "
          f"{model['parameters'] / 1e6:.1f} M params, guidance {result['guidance']}), {result['device']} "
          f"({result['device_name']}), median of {result.get('repeats', 1)}")
    print("| scheduler | steps | " + " | ".join(f"strength {s:.1f}" for s in strengths) + " | ms / denoising step |")
    print("|---|---:|" + "---:|" * (len(strengths) + 1))
    for key in dict.fromkeys((r["scheduler"], r["steps"]) for r in rows):
        cells = {r["strength"]: r for r in rows if (r["scheduler"], r["steps"]) == key}
        per_step = statistics.median(c["ms_per_step"] for c in cells.values())
        print(f"| {key[0]} | {key[1]} | " + " | ".join(
            f"{cells[s]['seconds']:.2f} s ({cells[s]['denoise_steps']})" if s in cells else "" for s in strengths)
              + f" | {per_step:.0f} |")
    print(f"\n### Engine overhead vs stock StableDiffusionImg2ImgPipeline (tiny SD, {over['resolution']} px, "
          f"{over['steps']} steps @ {over['strength']} = {over['denoise_steps']} denoising steps, guidance 7.5, "
          f"DDIM), median of {over['repeats']} interleaved pairs")
    print("| engine | stock diffusers | overhead |")
    print("|---:|---:|---:|")
    print(f"| {1000 * over['engine_s']:.1f} ms | {1000 * over['stock_s']:.1f} ms | {over['overhead_pct']:+.1f} % |")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default: auto)")
    p.add_argument("--schedulers", nargs="+", default=["ddpm", "ddim", "dpmsolver++", "euler"])
    p.add_argument("--steps", type=int, nargs="+", default=[10, 25, 50], help="full-schedule steps")
    p.add_argument("--strengths", type=float, nargs="+", default=[0.3, 0.6, 0.9])
    p.add_argument("--repeats", type=int, default=1, help="timed runs per grid cell after one warm-up (median)")
    p.add_argument("--overhead-repeats", type=int, default=9, help="interleaved pairs for the overhead (median)")
    p.add_argument("--sd-steps", type=int, default=25, help="steps for the overhead runs (strength 0.6)")
    p.add_argument("--sd-latent", type=int, default=32,
                   help="latent size of the tiny SD for the overhead runs (images are twice that) (default: 32)")
    p.add_argument("--quick", action="store_true", help="ddim and euler, 10/25 steps, strength 0.6; 5 overhead pairs")
    p.add_argument("--out", type=Path, default=Path("bench/results/sdedit.json"))
    p.add_argument("--show", type=Path, default=None, metavar="JSON", help="only print the tables of a results file")
    args = p.parse_args(argv)
    if args.show is not None:
        print_tables(json.loads(args.show.read_text()))
        return
    if args.quick:
        args.schedulers, args.steps, args.strengths, args.overhead_repeats = ["ddim", "euler"], [10, 25], [0.6], 5
    device = pick_device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads"
    engine = DiffusionEngine("default", device=str(device))
    desc = engine.describe()
    print(f"SDEdit latency on {device} ({name}), torch {torch.__version__}: {desc.name}, "
          f"{desc.parameters / 1e6:.1f} M params, guidance {engine.default_guidance}")
    rows = grid(engine, args)
    over = overhead(device, args)

    result = {"device": str(device), "device_name": name, "torch": torch.__version__, "model": desc.as_dict(),
              "guidance": engine.default_guidance, "repeats": args.repeats, "rows": rows, "overhead": over}
    print_tables(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
