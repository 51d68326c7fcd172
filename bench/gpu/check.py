"""The GPU check (issue 20): CUDA against CPU for every network and job, then a speed table.

    python -m bench.gpu.check parity --device cuda --out DIR     # DIR/parity.json, exit 1 if a check fails
    python -m bench.gpu.check speed  --device cuda --out DIR     # DIR/speed.json
    python -m bench.gpu.check report --work DIR --out gpu.json   # merge (+ load.json), ratios, a markdown table

``parity``: the shipped 64 px StyleGAN2 (G and D), the pixel DDPM's UNet, SDEdit and inversion run on the device
in fp32 (TF32 off) and in bf16 (autocast; SDEdit with bf16 weights), each against the same job in fp32 on the CPU;
the relative error ‖device − cpu‖ / ‖cpu‖ must stay under a tolerance per check. ``speed``: inversion image-steps/s
at batch 1/8/32 for the 64 px model and a random-weight StyleGAN2 at ``--big-res`` (256 px, config-f widths),
the batch-8 vs 8 single runs ratio, FLOP/s of batch-32 big inversion against the GPU's bf16 peak (FLOPs from
``torch.utils.flop_counter``), SDEdit images/s, G and UNet forward throughput. ``--dry-run``: tiny random models
and a few steps, seconds on a CPU (`tests/test_gpu_check.py`), so the script cannot rot between GPU sessions.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[2]
#: dense bf16 tensor-core peaks (TFLOP/s, no sparsity) by GPU name; CHECK_PEAK_TFLOPS / --peak-tflops overrides
BF16_PEAK_TFLOPS = {"H200": 989.4, "H100 SXM": 989.4, "H100 PCIe": 756.0, "H100": 989.4, "A100": 312.0,
                    "L40S": 362.1, "L4": 121.0, "A10G": 70.0, "A10": 125.0, "RTX 4090": 165.2, "RTX 3090": 71.0}
#: relative-error tolerances: fp32 is strict (TF32 off), bf16 has 8 mantissa bits
TOL = {"float32": {"G": 1e-4, "D": 1e-4, "UNet": 1e-4, "SDEdit": 1e-3, "inversion": 1e-2},
       "bfloat16": {"G": 5e-2, "D": 5e-2, "UNet": 5e-2, "SDEdit": 8e-2, "inversion": 0.15}}
TINY_SG2 = dict(img_resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32, mapping_layers=2)
TINY_UNET = dict(sample_size=32, in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                 down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                 norm_num_groups=4)


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    a, ref = a.detach().float().cpu(), ref.detach().float().cpu()
    return float((a - ref).norm() / ref.norm().clamp_min(1e-12))


def autocast(device: torch.device, dtype: str):
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def environment(device: torch.device) -> dict[str, Any]:
    info = {"device": str(device), "torch": torch.__version__, "python": platform.python_version(),
            "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info.update(gpu=torch.cuda.get_device_name(device), cuda=torch.version.cuda,
                    memory_gib=round(torch.cuda.get_device_properties(device).total_memory / 2**30, 1))
    with contextlib.suppress(ImportError):
        import diffusers
        info["diffusers"] = diffusers.__version__
    return info


# ---------------------------------------------------------------------------------------------- models
def gan_bundle(dry: bool, big_res: int = 0):
    """The shipped 64 px StyleGAN2 (tiny random in a dry run), or with ``big_res`` a random-weight StyleGAN2 of
    that size with the official config-f widths (channel_base 16384 up to 256 px, 32768 above)."""
    from engines.stylegan.checkpoints import GanBundle, build_discriminator, build_generator, load_gan
    if not big_res and not dry:
        return load_gan("default")
    kw = dict(TINY_SG2) if dry else dict(z_dim=512, w_dim=512, mapping_layers=8, channel_max=512,
                                         channel_base=16384 if big_res <= 256 else 32768)
    if big_res:
        kw["img_resolution"] = big_res
    torch.manual_seed(0)
    G = build_generator("stylegan2", kw).eval().requires_grad_(False)
    D = build_discriminator("stylegan2", {k: v for k, v in kw.items() if k not in ("z_dim", "w_dim", "mapping_layers")})
    return GanBundle(G=G, D=D.eval().requires_grad_(False), arch="stylegan2", source=f"random {kw['img_resolution']} px",
                     config={"arch": "stylegan2", "generator": G.config.as_dict(), "discriminator": D.config.as_dict()})


def gan_engine(bundle, device: torch.device):
    """An engine on ``device`` over a copy of the bundle's networks. Its mean w and typical distance are computed
    here, in fp32: made lazily inside a bf16 autocast they would be bf16 and so would the latents optimised."""
    from engines.stylegan.engine import GanEngine
    b = copy.copy(bundle)
    b.G, b.D = copy.deepcopy(bundle.G), copy.deepcopy(bundle.D)
    engine = GanEngine(device=str(device), bundle=b)
    engine.mean_w()
    engine.typical_w_distance()
    return engine


def pixel_pipeline(dry: bool):
    from engines.diffusion.pixel_pipeline import ClassConditionalPixelPipeline, build_pixel_pipeline
    if dry:
        return build_pixel_pipeline({**TINY_UNET, "num_class_embeds": 3}, class_names=["cat", "grumpy cat"])
    return ClassConditionalPixelPipeline.from_pretrained(str(ROOT / "weights" / "ddpm-cats64"), torch_dtype=torch.float32)


def diffusion_engine(pipe, device: torch.device, dtype: str = "float32"):
    from engines.diffusion import DiffusionEngine
    return DiffusionEngine.from_pipeline(copy.deepcopy(pipe), device=str(device), dtype=dtype)


# ---------------------------------------------------------------------------------------------- parity
def parity(device: torch.device, dry: bool, steps: int) -> dict[str, Any]:
    """Every network and job on ``device`` (fp32, bf16) against fp32 on the CPU."""
    cpu = torch.device("cpu")
    torch.backends.cuda.matmul.allow_tf32 = False  # the fp32 check is strict: true fp32 on both sides
    torch.backends.cudnn.allow_tf32 = False
    bundle, pipe = gan_bundle(dry), pixel_pipeline(dry)
    G, D, unet = bundle.G.float(), bundle.D.float(), pipe.unet.float()
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(4, G.z_dim, generator=gen)
    with torch.no_grad():
        ref_img = G(z, noise_mode="const")
        ref_logits = D(ref_img)
        size = unet.config.sample_size
        x = torch.randn(4, 3, size, size, generator=gen)
        t, labels = torch.tensor([10, 300, 600, 900]), torch.tensor([0, 1, 2, 0])
        ref_eps = unet(x, t, class_labels=labels).sample
    photos = gan_engine(bundle, cpu).sample(2, seed=1)
    guide = photos[0].resize((size, size))
    opts = dict(steps=steps, strength=0.6, scheduler="ddim", n=2, frames=0, class_name="cat")
    ref_sdedit = diffusion_engine(pipe, cpu).from_guide(guide, seed=0, **opts)
    ref_inv = gan_engine(bundle, cpu).invert(photos, seed=0, steps=steps)
    checks = []
    for dtype in ("float32", "bfloat16"):
        def add(name: str, err: float, **extra: Any) -> None:
            tol = TOL[dtype][name]
            checks.append({"check": name, "dtype": dtype, "rel_err": err, "tol": tol, "ok": err <= tol, **extra})
        Gd, Dd, Ud = (copy.deepcopy(m).to(device) for m in (G, D, unet))
        with torch.no_grad(), autocast(device, dtype):
            add("G", rel_err(Gd(z.to(device), noise_mode="const"), ref_img))
            add("D", rel_err(Dd(ref_img.to(device)), ref_logits))
            add("UNet", rel_err(Ud(x.to(device), t.to(device), class_labels=labels.to(device)).sample, ref_eps))
        res = diffusion_engine(pipe, device, dtype).from_guide(guide, seed=0, **opts)
        from engines import imaging
        add("SDEdit", rel_err(imaging.to_tensor(res.images), imaging.to_tensor(ref_sdedit.images)))
        engine = gan_engine(bundle, device)
        with autocast(device, dtype):
            inv = engine.invert(photos, seed=0, steps=steps)
        psnr = [round(a - b, 3) for a, b in zip(inv.metrics["psnr"], ref_inv.metrics["psnr"])]
        add("inversion", rel_err(torch.as_tensor(inv.latents["latent"]), torch.as_tensor(ref_inv.latents["latent"])),
            psnr_minus_cpu_db=psnr)
    return {"checks": checks, "ok": all(c["ok"] for c in checks), "steps": steps, "tf32": False,
            "models": {"gan": bundle.source, "ddpm": "tiny random" if dry else "weights/ddpm-cats64"}}


# ---------------------------------------------------------------------------------------------- speed
def timed(fn: Callable[[], Any], device: torch.device, repeats: int = 1) -> float:
    """Seconds per call after one warm-up call."""
    fn()
    sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeats


def inversion_rates(engine, device: torch.device, batches: list[int], steps: int, dtype: str) -> dict[str, float]:
    """Image-steps/s of ``engine.project``'s optimisation loop as `GanEngine.invert` runs it (the default loss: L2 +
    D-feature perceptual, and StyleGAN2's noise maps fitted too) per batch size, after a warm-up run."""
    from engines.stylegan.projector import ProjectionConfig
    out = {}
    for b in batches:
        with torch.no_grad():
            targets = engine.G(torch.randn(b, engine.G.z_dim, generator=torch.Generator().manual_seed(b)).to(device))
        cfg = ProjectionConfig(steps=steps, frames=0, optimize_noise=engine.default_optimize_noise("adam"))
        seconds = []

        def run() -> None:
            with autocast(device, dtype):
                seconds.append(engine.project(targets.float(), None, cfg, seed=0).timings["total"])
        timed(run, device)
        out[str(b)] = round(b * steps / seconds[-1], 1)  # the projection loop's own clock, not the scoring after it
    return out


def step_flops(engine, device: torch.device, batch: int) -> float:
    """FLOPs of one inversion step (forward + backward of G and the perceptual D) at ``batch``: a 2-step run's
    count minus a 1-step run's, so set-up and the final render cancel out."""
    from torch.utils.flop_counter import FlopCounterMode
    from engines.stylegan.projector import ProjectionConfig
    with torch.no_grad():
        targets = engine.G(torch.randn(batch, engine.G.z_dim).to(device)).float()
    counts = []
    for steps in (1, 2):
        with FlopCounterMode(display=False) as counter, autocast(device, "bfloat16"):
            engine.project(targets, None, ProjectionConfig(steps=steps, frames=0), seed=0)
        counts.append(counter.get_total_flops())
    return float(counts[1] - counts[0])


def peak_tflops(device: torch.device, override: float) -> tuple[float | None, str]:
    if override:
        return override, "given"
    if device.type != "cuda":
        return None, "no GPU"
    name = torch.cuda.get_device_name(device)
    for key, value in BF16_PEAK_TFLOPS.items():
        if key in name:
            return value, f"table ({key})"
    return None, f"unknown GPU {name!r}: pass --peak-tflops"


def speed(device: torch.device, dry: bool, steps: int, batches: list[int], big_res: int, peak: float) -> dict:
    # the batching gain: batch k (8, or the next size in a dry run) against k single runs, image-steps/s ratio
    k = 8 if 8 in batches else batches[min(1, len(batches) - 1)]
    out: dict[str, Any] = {"steps": steps, "batches": batches, "inversion": {},
                           "batch_vs_single": {"batch": k, "ratios": {}}}
    torch.backends.cuda.matmul.allow_tf32 = True  # what users get: TF32 on for fp32 speed
    torch.backends.cudnn.allow_tf32 = True
    bundles = {"64px": gan_bundle(dry), f"{big_res}px_random": gan_bundle(dry, big_res)}
    engines = {}
    for name, bundle in bundles.items():
        engines[name] = eng = gan_engine(bundle, device)
        for dtype in ("float32", "bfloat16"):
            rates = inversion_rates(eng, device, batches, steps, dtype)
            out["inversion"][f"{name} {dtype}"] = rates
            if "1" in rates:
                out["batch_vs_single"]["ratios"][f"{name} {dtype}"] = round(rates[str(k)] / rates["1"], 2)
    big, b = engines[f"{big_res}px_random"], max(batches)
    flops = step_flops(big, device, b)
    rate = out["inversion"][f"{big_res}px_random bfloat16"][str(b)]
    peak_value, peak_from = peak_tflops(device, peak)
    achieved = flops / b * rate  # FLOPs per image-step × image-steps/s
    out["flops"] = {"what": f"inversion, {big_res} px random StyleGAN2, batch {b}, bf16 autocast",
                    "tflop_per_step": round(flops / 1e12, 4), "achieved_tflops": round(achieved / 1e12, 4),
                    "bf16_peak_tflops": peak_value, "peak_from": peak_from,
                    "fraction_of_peak": round(achieved / (peak_value * 1e12), 4) if peak_value else None}
    # G forward and UNet forward throughput, SDEdit images/s
    n = 8 if dry else 64
    out["G_img_per_s"], out["UNet_img_per_s"], out["sdedit_img_per_s"] = {}, {}, {}
    pipe = pixel_pipeline(dry)
    unet = pipe.unet.to(device)
    size = unet.config.sample_size
    x, t = torch.randn(n, 3, size, size, device=device), torch.randint(0, 1000, (n,), device=device)
    labels = torch.zeros(n, dtype=torch.long, device=device)
    guide = bundles["64px"].G(torch.randn(1, bundles["64px"].G.z_dim)).float()
    from engines import imaging
    guide_img = imaging.to_pil(guide)[0].resize((size, size))
    for dtype in ("float32", "bfloat16"):
        for name, eng in engines.items():
            zs = torch.randn(n, eng.G.z_dim, device=device)
            with torch.no_grad(), autocast(device, dtype):
                sec = timed(lambda: eng.G(zs, noise_mode="const"), device, repeats=3)
            out["G_img_per_s"][f"{name} {dtype}"] = round(n / sec, 1)
        with torch.no_grad(), autocast(device, dtype):
            sec = timed(lambda: unet(x, t, class_labels=labels), device, repeats=3)
        out["UNet_img_per_s"][dtype] = round(n / sec, 1)
        eng = diffusion_engine(pipe, device, dtype)
        k = 2 if dry else 8
        sec = timed(lambda: eng.from_guide(guide_img, seed=0, steps=steps, strength=0.6, scheduler="ddim", n=k,
                                           frames=0, class_name="cat"), device)
        out["sdedit_img_per_s"][dtype] = {"img_per_s": round(k / sec, 2), "n": k, "ddim_steps": steps,
                                          "strength": 0.6}
    if device.type == "cuda":
        out["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


# ---------------------------------------------------------------------------------------------- report
def report(work: Path, dest: Path, dry: bool) -> dict[str, Any]:
    """Merge the stages' JSON into one file and print the table the README shows."""
    def read(name: str) -> Any:
        path = work / name
        return json.loads(path.read_text()) if path.is_file() else None
    data = {"dry_run": dry, "env": read("env.json"), "parity": read("parity.json"), "speed": read("speed.json"),
            "load": read("load.json") or read("load_skipped.json"), "stages": read("stages.json")}
    sp = data["speed"] or {}
    gain = sp.get("batch_vs_single", {})
    ratios, k = gain.get("ratios", {}), gain.get("batch")
    data["goals"] = {f"batch{k}_vs_{k}_single": {"values": ratios, "goal_gpu": 20, "goal_cpu": 4},
                     "fraction_of_bf16_peak": {"value": (sp.get("flops") or {}).get("fraction_of_peak"), "goal": 0.5}}
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(data, indent=2))
    lines = ["| measure | fp32 | bf16 |", "|---|---:|---:|"]
    for key in sorted({k.rsplit(" ", 1)[0] for k in sp.get("inversion", {})}):
        for b in sp.get("batches", []):
            cells = [sp["inversion"].get(f"{key} {d}", {}).get(str(b)) for d in ("float32", "bfloat16")]
            lines.append(f"| inversion {key}, batch {b} (image-steps/s) | {cells[0]} | {cells[1]} |")
        lines.append(f"| batch {k} vs {k} single runs, {key} | {ratios.get(f'{key} float32')}× | "
                     f"{ratios.get(f'{key} bfloat16')}× |")
    for key in sorted({k.rsplit(' ', 1)[0] for k in sp.get("G_img_per_s", {})}):
        lines.append(f"| G forward {key} (img/s) | {sp['G_img_per_s'].get(key + ' float32')} | "
                     f"{sp['G_img_per_s'].get(key + ' bfloat16')} |")
    if sp:
        lines.append(f"| UNet forward (img/s) | {sp['UNet_img_per_s'].get('float32')} | {sp['UNet_img_per_s'].get('bfloat16')} |")
        s = sp["sdedit_img_per_s"]
        lines.append(f"| SDEdit, DDIM {s['float32']['ddim_steps']} × 0.6, n {s['float32']['n']} (img/s) | "
                     f"{s['float32']['img_per_s']} | {s['bfloat16']['img_per_s']} |")
        f = sp["flops"]
        lines.append(f"| {f['what']}: TFLOP/s (share of the {f['bf16_peak_tflops']} peak) | | "
                     f"{f['achieved_tflops']} ({f['fraction_of_peak']}) |")
    if data["parity"]:
        bad = [f"{c['check']} {c['dtype']}" for c in data["parity"]["checks"] if not c["ok"]]
        lines.append(f"\nparity: {'all within tolerance' if not bad else 'FAILED: ' + ', '.join(bad)}")
    table = "\n".join(lines)
    dest.with_suffix(".md").write_text(table + "\n")
    print(table)
    return data


def _faces_or_stand_in() -> str:
    try:
        import cv2
        if hasattr(cv2, "CascadeClassifier"):
            return f"OpenCV {cv2.__version__}"
    except ImportError:
        pass
    # Face scores and crops are CPU-side OpenCV work that parity and speed do not compare: where the device
    # image's cv2 lacks the cascade (or resize), they answer "no face" instead of stopping the check.
    from engines import faces
    from engines.evaluation import cat_faces
    faces._search_sizes = lambda *args, **kwargs: []
    cat_faces.confidence = lambda images: torch.zeros(len(images))
    return "no OpenCV cascade in this image: face scores not computed"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("stage", choices=["parity", "speed", "report"])
    p.add_argument("--device", default="cuda")
    p.add_argument("--out", type=Path, required=True, help="parity/speed: folder for the JSON; report: the gpu.json")
    p.add_argument("--work", type=Path, help="report: the folder the stages wrote to")
    p.add_argument("--dry-run", action="store_true", help="tiny random models, a few steps (CPU, seconds)")
    p.add_argument("--steps", type=int, default=50, help="inversion and SDEdit steps")
    p.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    p.add_argument("--big-res", type=int, default=256, help="side of the random-weight StyleGAN2 (256 or 1024)")
    p.add_argument("--peak-tflops", type=float, default=0.0, help="the GPU's dense bf16 peak (default: from a table)")
    args = p.parse_args(argv)
    if args.stage == "report":
        report(args.work, args.out, args.dry_run)
        return 0
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: run with --device cpu --dry-run for the CPU dry run", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    env = environment(device)
    env["cat_faces"] = _faces_or_stand_in()
    (args.out / "env.json").write_text(json.dumps(env, indent=2))
    if args.stage == "parity":
        result = parity(device, args.dry_run, args.steps)
        (args.out / "parity.json").write_text(json.dumps(result, indent=2))
        for c in result["checks"]:
            print(f"{c['check']:>9} {c['dtype']:>8}: rel err {c['rel_err']:.2e} (tol {c['tol']:.0e}) "
                  f"{'ok' if c['ok'] else 'FAIL'}")
        return 0 if result["ok"] else 1
    result = speed(device, args.dry_run, args.steps, args.batches, args.big_res, args.peak_tflops)
    (args.out / "speed.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result["inversion"]), json.dumps(result["flops"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
