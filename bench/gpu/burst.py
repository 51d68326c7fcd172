"""Device side of the GPU burst: one training stage per process, then the packing of what comes back.

    python -m bench.gpu.burst gan  --out WORK/gan  --seconds 270 [--batch 256] [--from auto|scratch|DIR]
    python -m bench.gpu.burst ddpm --out WORK/ddpm --seconds 200 [--batch 256] [--from auto|scratch|DIR]
    python -m bench.gpu.burst package --work WORK --out $OUT [--status gan=0 --status ddpm=0]

``train_burst.sh`` runs these in order under ``timeout``; each stage is its own process so a crash or a
hang in one still leaves the other and the packing. A stage reads the photos from the pack
(`bench.gpu.pack.read_pack`) and starts from ``--from``:

- ``auto``: ``resume/<stage>`` beside the pack if carried, else the shipped ``weights/`` model;
- a run folder with ``state.pt`` (exact resume) or with ``state16.pt`` + ``latest/`` (a compact state
  this script brought back: expanded to fp32 first, then exact resume);
- a model folder (``weights/stylegan2-cats64``, ``weights/ddpm-cats64``, a ``latest/``): fine-tune it
  with its own training settings (fresh optimiser, counters from zero);
- ``scratch``: a new network (``--overrides '{"model": {"channel_base": 4096}}'`` to try capacity).

Training runs with bf16 autocast on CUDA (both trainers), for ``--seconds`` of wall clock, at
``--batch``; ``stage.json`` records the throughput (img/s, steady img/s from the log), the GPU, the
peak memory and the last losses. ``package`` tars each stage's ``latest/`` (fp16), log, first and last
grid and a compact resumable state (weights fp16, Adam moments bf16, the DDPM's EMA taken from
``latest/``), splits the tar into parts under the device tool's 16 MiB per file, and writes
``summary.json`` beside them. ``bench.gpu.unpack`` joins and expands them here.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import sys
import tarfile
import time
import traceback
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from bench.gpu.compact import COMPACT_NAME, STATE_NAME, expand_run, write_compact

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"gan": ROOT / "weights" / "stylegan2-cats64", "ddpm": ROOT / "weights" / "ddpm-cats64"}
#: Settings a stage never inherits from the model it starts from: the burst decides these. A burst runs by the
#: clock, so a CPU run's learning-rate decay to its own --kimg end and its gradient accumulation (a CPU's memory
#: split of the batch) are that run's, not the model's.
NOT_INHERITED = {"data", "classes", "out", "resume", "init", "batch", "minutes", "kimg", "device",
                 "snapshot_minutes", "resolution", "val_fraction", "accumulate", "lr_decay"}
PART_BYTES = 15 * 2 ** 20
MAX_BYTES = 60 * 2 ** 20                   # the tool brings back 64 MiB in all; log + summary stay beside
MAX_PARTS = 6                              # ... and 8 files: the parts, burst.log and summary.json


# ----------------------------------------------------------------------------------------------
# Where a stage starts

def pick_source(kind: str, given: str, pack: Path) -> Optional[Path]:
    """None for scratch; else the folder to start from (see the module docstring)."""
    if given == "scratch":
        return None
    if given != "auto":
        return Path(given)
    carried = pack.parent / "resume" / kind
    return carried if carried.is_dir() and any(carried.iterdir()) else SHIPPED[kind]


def _training_config(path: Path, kind: str) -> dict:
    """The training settings saved with a model folder (GAN config.json "training", DDPM training.json)."""
    try:
        if kind == "gan":
            info = json.loads((path / "config.json").read_text()).get("training") or {}
        else:
            info = json.loads((path / "training.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in (info.get("config") or {}).items() if k not in NOT_INHERITED}


def unet_architecture(latest: Path) -> dict:
    """The constructor arguments of a saved UNet (a run started by fine-tuning has no ``unet`` overrides
    of its own, yet its UNet need not be the default one)."""
    import inspect

    from diffusers import UNet2DModel
    config = json.loads((latest / "unet" / "config.json").read_text())
    names = set(inspect.signature(UNet2DModel.__init__).parameters) - {"self"}
    return {k: v for k, v in config.items() if k in names}


def _resume_settings(run: Path, kind: str) -> dict:
    settings = _training_config(run / "latest", kind)
    if kind == "ddpm":
        settings["unet"] = unet_architecture(run / "latest")
    return settings


def start_from(kind: str, source: Optional[Path], out: Path) -> tuple[dict, dict, str]:
    """(inherited settings, resume/init kwargs, mode) for a stage starting at ``source``."""
    if source is None:
        return {}, {}, "scratch"
    if (source / STATE_NAME).is_file() or (source / COMPACT_NAME).is_file():
        if (source / "log.jsonl").is_file() and not (out / "log.jsonl").exists():
            shutil.copy(source / "log.jsonl", out / "log.jsonl")      # the run's log goes on
        if (source / STATE_NAME).is_file():
            return _resume_settings(source, kind), {"resume": str(source)}, "exact resume"
        expand_run(source, kind, out)
        return _resume_settings(source, kind), {"resume": str(out)}, "exact resume (compact state)"
    if kind == "gan" and (source / "config.json").is_file():
        return _training_config(source, kind), {"resume": str(source)}, "fine-tune"
    if kind == "ddpm" and (source / "model_index.json").is_file():
        return _training_config(source, kind), {"init": str(source)}, "fine-tune"
    raise SystemExit(f"{source}: neither a run folder (state.pt / state16.pt) nor a {kind} model folder")


# ----------------------------------------------------------------------------------------------
# Stages

def environment() -> dict[str, Any]:
    env: dict[str, Any] = {"python": sys.version.split()[0], "torch": torch.__version__, "cuda": torch.version.cuda,
                           "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None}
    try:
        import diffusers
        env["diffusers"] = f"{diffusers.__version__} ({Path(diffusers.__file__).parent.parent})"
    except Exception as exc:  # the DDPM stage will say so too; the GAN stage does not need it
        env["diffusers"] = f"missing: {exc!r}"
    from PIL import features
    env["pil_webp"] = bool(features.check("webp"))
    return env


def steady_rate(log: Path, skip: int) -> Optional[float]:
    """img/s between the first and the last log line of this run (past the warm-up)."""
    try:
        lines = [json.loads(x) for x in log.read_text().splitlines()[skip:] if x.strip()]
    except (OSError, ValueError):
        return None
    if len(lines) < 3:
        return None
    a, b = lines[1], lines[-1]
    return round((b["kimg"] - a["kimg"]) * 1000 / max(b["seconds"] - a["seconds"], 1e-9), 1) if b["seconds"] > a["seconds"] else None


def _build(kind: str, args: argparse.Namespace, out: Path):
    from bench.gpu.pack import read_pack
    pack = Path(args.pack)
    meta, classes = read_pack(pack)
    source = pick_source(kind, args.source, pack)
    inherited, start, mode = start_from(kind, source, out)
    cfg = stage_config(kind, inherited, json.loads(args.overrides), start, out=out, batch=args.batch,
                       seconds=args.seconds, device=args.device, snapshot_seconds=args.snapshot_seconds,
                       pack=pack, meta=meta)
    if kind == "gan":
        from engines.stylegan.train import GanTrainer
        trainer = GanTrainer(cfg, images=classes["cat"][1])
    else:
        from engines.diffusion.train import DiffusionTrainer
        trainer = DiffusionTrainer(cfg, images={c["name"]: classes[c["name"]][1] for c in meta["classes"]})
    return trainer, {"from": str(source) if source else "scratch", "mode": mode, "pack": {
        k: meta.get(k) for k in ("codec", "quality", "psnr_db", "resolution")}}


def stage_config(kind: str, inherited: dict, overrides: dict, start: dict, *, out: Path, batch: int, seconds: float,
                 device: str, snapshot_seconds: float, pack: Path, meta: dict):
    """The stage's checked training config: what the starting model was trained with, the overrides, then what
    the burst decides (a wall-clock budget, no kimg)."""
    settings = {**inherited, **overrides, **start, "out": str(out), "batch": batch, "minutes": seconds / 60,
                "kimg": None, "device": device, "snapshot_minutes": (snapshot_seconds or max(seconds / 2, 1)) / 60,
                "resolution": meta["resolution"]}
    if kind == "gan":
        from engines.stylegan.train import TrainConfig
        return TrainConfig(**_known(TrainConfig, {**settings, "data": f"{pack}#cat"}))
    from engines.diffusion.train import DiffusionTrainConfig
    names = [c["name"] for c in meta["classes"]]
    return DiffusionTrainConfig(**_known(DiffusionTrainConfig, {**settings, "classes": {n: f"{pack}#{n}" for n in names}}))


def _known(cls, settings: dict) -> dict:
    names = {f.name for f in dataclasses.fields(cls)}
    return {k: v for k, v in settings.items() if k in names}


def stage(kind: str, args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"stage": kind, "ok": False, "batch": args.batch, "budget_seconds": args.seconds}
    try:
        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
            torch.backends.cudnn.benchmark = True
        report["env"] = environment()
        trainer, info = _build(kind, args, out)
        report.update(info, device=str(trainer.device), setup_seconds=round(time.perf_counter() - STARTED, 1))
        if kind == "gan":
            trainer.sample_grid().save(out / "grid_start.png")
            nets = {"G": trainer.G, "D": trainer.D}
        else:
            nets = {"unet": trainer.unet}
        report["params"] = {k: sum(p.numel() for p in m.parameters()) for k, m in nets.items()}
        log = out / "log.jsonl"
        skip = len(log.read_text().splitlines()) if log.is_file() else 0
        nimg0, steps0, elapsed0 = trainer.nimg, trainer.steps, trainer.elapsed
        if trainer.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        result = trainer.run(log_every=args.log_every)
        loop = trainer.elapsed - elapsed0
        lines = log.read_text().splitlines()[skip:] if log.is_file() else []
        report.update(
            ok=True, images_this_run=trainer.nimg - nimg0, steps_this_run=trainer.steps - steps0,
            images_seen_total=trainer.nimg, loop_seconds=round(loop, 1),
            img_per_s=round((trainer.nimg - nimg0) / max(loop, 1e-9), 1),
            img_per_s_steady=steady_rate(log, skip), steps_per_s=round((trainer.steps - steps0) / max(loop, 1e-9), 2),
            peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2 ** 30, 2) if trainer.device.type == "cuda" else None,
            last_log=json.loads(lines[-1]) if lines else None, shipped=result["folder"])
    except BaseException as exc:  # noqa: BLE001 — any failure is reported, then the script goes on
        report["error"] = "".join(traceback.format_exception(exc)[-6:])
        print(report["error"], file=sys.stderr)
    report["stage_seconds"] = round(time.perf_counter() - STARTED, 1)
    (out / "stage.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps({k: v for k, v in report.items() if k not in ("env", "error")}, default=str))
    return 0 if report["ok"] else 1


# ----------------------------------------------------------------------------------------------
# Packing what comes back

def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(2 ** 20), b""):
            h.update(chunk)
    return h.hexdigest()


def gpu_load(csv: Path) -> dict[str, Any]:
    """Mean / max GPU utilisation (%), memory used (MiB) and power (W) over the busy samples nvidia-smi
    took (utilisation > 0: start-up and packing are left out)."""
    def num(text: str) -> Optional[float]:
        try:
            return float(text)
        except ValueError:
            return None
    rows = [[num(x) for x in line.split(",")[1:4]] for line in csv.read_text().splitlines()]
    rows = [r + [None] * (3 - len(r)) for r in rows if r and r[0] is not None]
    busy = [r for r in rows if r[0] > 0]
    out: dict[str, Any] = {"samples": len(rows), "busy_samples": len(busy)}
    for i, name in enumerate(("util_pct", "memory_used_mib", "power_w")):
        vals = [r[i] for r in busy if r[i] is not None]
        if vals:
            out[f"{name}_mean"], out[f"{name}_max"] = round(sum(vals) / len(vals), 1), max(vals)
    return out


def package(args: argparse.Namespace) -> int:
    work, out = Path(args.work), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    status = dict(s.split("=", 1) for s in args.status)
    summary: dict[str, Any] = {"format": "latent-studio-burst", "version": 1, "stages": {}, "left_out": []}
    items: list[tuple[int, str, Path]] = []                      # (priority, name in the tar, file)
    for rank, kind in enumerate(("gan", "ddpm")):
        run = work / kind
        try:
            report = json.loads((run / "stage.json").read_text())
        except (OSError, ValueError):
            report = {"stage": kind, "ok": False, "error": "no stage.json: not run, or killed before it ended"}
        code = status.get(kind)
        report["exit_code"] = None if code in (None, "") else int(code)
        if report["exit_code"] in (124, 137):
            report["timed_out"] = True
        summary["stages"][kind] = report
        if not run.is_dir():
            continue
        for name in ("stage.json", "log.jsonl"):
            if (run / name).is_file():
                items.append((0, f"{kind}/{name}", run / name))
        latest = run / "latest"
        if latest.is_dir():
            items += [(1 + rank, f"{kind}/latest/{p.relative_to(latest)}", p)
                      for p in sorted(latest.rglob("*")) if p.is_file()]
        grids = sorted(run.glob("grid_*kimg.png"))
        for p in ([run / "grid_start.png"] if (run / "grid_start.png").is_file() else []) + grids[-1:]:
            items.append((3, f"{kind}/{p.name}", p))
        if (run / STATE_NAME).is_file() and latest.is_dir():
            try:
                items.append((4 + rank, f"{kind}/{COMPACT_NAME}", write_compact(run, kind, work / f"{kind}_{COMPACT_NAME}")))
            except Exception as exc:  # noqa: BLE001
                summary["left_out"].append(f"{kind}/{COMPACT_NAME} (could not be written: {exc!r})")
    util = work / "gpu_util.csv"
    if util.is_file():
        items.append((0, util.name, util))
        summary["gpu_util"] = gpu_load(util)
    chosen, total = [], 0
    for _, name, path in sorted(items, key=lambda t: t[0]):
        size = 512 + -(-path.stat().st_size // 512) * 512
        if total + size > args.max_bytes - 10240:
            summary["left_out"].append(f"{name} ({path.stat().st_size} bytes: over the {args.max_bytes}-byte limit)")
            continue
        chosen.append((name, path))
        total += size
    tar_path = work / "burst.tar"
    with tarfile.open(tar_path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for name, path in chosen:
            tar.add(path, arcname=name)
    parts = []
    part_bytes = max(args.part_bytes, -(-tar_path.stat().st_size // MAX_PARTS))  # the tool brings back 8 files
    with open(tar_path, "rb") as fh:
        for i in range(99):
            chunk = fh.read(part_bytes)
            if not chunk:
                break
            part = out / f"burst.tar.part{i:02d}"
            part.write_bytes(chunk)
            parts.append({"name": part.name, "bytes": len(chunk), "sha256": hashlib.sha256(chunk).hexdigest()})
    summary.update(parts=parts, tar_sha256=_sha256(tar_path), tar_bytes=tar_path.stat().st_size,
                   files=[name for name, _ in chosen],
                   join="cat burst.tar.part* > burst.tar && tar -xf burst.tar   (or: python -m bench.gpu.unpack DIR)",
                   script_seconds=int(args.script_seconds) if args.script_seconds else None)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    for kind, report in summary["stages"].items():
        print(f"{kind}: ok={report.get('ok')} img/s={report.get('img_per_s')} steady={report.get('img_per_s_steady')} "
              f"images={report.get('images_this_run')} peak={report.get('peak_memory_gib')} GiB "
              f"{'error: ' + report['error'].strip().splitlines()[-1] if report.get('error') else ''}")
    print(f"packed {len(chosen)} files, {len(parts)} parts, {tar_path.stat().st_size / 2 ** 20:.1f} MiB; "
          f"left out: {summary['left_out'] or 'nothing'}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    for kind in ("gan", "ddpm"):
        p = sub.add_parser(kind)
        p.add_argument("--out", required=True)
        p.add_argument("--pack", default=str(ROOT / ".data" / "cats64.npz"))
        p.add_argument("--from", dest="source", default="auto")
        p.add_argument("--seconds", type=float, required=True)
        p.add_argument("--batch", type=int, default=256)
        p.add_argument("--device", default="auto")
        p.add_argument("--overrides", default="{}", help="JSON of training settings (e.g. lr, r1_gamma, model)")
        p.add_argument("--snapshot-seconds", type=float, default=0, help="mid-run snapshots (default: half the budget)")
        p.add_argument("--log-every", type=int, default=20)
    p = sub.add_parser("package")
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--status", action="append", default=[], metavar="STAGE=EXIT_CODE")
    p.add_argument("--part-bytes", type=int, default=PART_BYTES)
    p.add_argument("--max-bytes", type=int, default=MAX_BYTES)
    p.add_argument("--script-seconds", type=float)
    args = ap.parse_args(argv)
    if args.cmd == "package":
        return package(args)
    return stage(args.cmd, args)


if __name__ == "__main__":
    sys.exit(main())
