"""Prepare what a GPU burst carries: the training photos as one compact file, and the missing wheels.

    python -m bench.gpu.pack [--cats ../shared/data/cats] [--grumpy ../shared/data/grumpy]
                             [--quality auto|1..100] [--resume-gan DIR] [--resume-ddpm DIR] [--no-wheels]

Writes (both folders are git-ignored, so only ``carry`` takes them to the device machine):

- ``.data/cats64.npz``: the *training* split of each class (the validation photos, chosen by the
  hash of the file name as in `engines.data.split`, never travel), decoded and cropped exactly as the
  trainers load them, re-encoded as WebP (quality picked to fit the budget), with the original names.
  `read_pack` turns it back into the uint8 tensors the trainers take.
- ``.data/resume/{gan,ddpm}`` (optional): a model folder or a run folder of an earlier burst to
  continue from instead of ``weights/``.
- ``.whl/site.tar.xz``: the pure-Python wheels the device image lacks (diffusers; see KINDS.md),
  downloaded with pip for CPython 3.12 manylinux and unpacked into one xz tarball (6.4 MB of wheel
  become about 2 MB); ``train_burst.sh`` extracts it and puts it on ``PYTHONPATH``.

The device tool sends the working tree plus the carried folders, 64 MiB in all, so the data budget is
what the tree and the wheels leave (minus ``--margin``); the script prints the sizes and the exact
``run`` call.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from PIL import Image

from bench.gpu.compact import COMPACT_NAME, STATE_NAME, write_compact

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 2 ** 20                     # what one device call may send: tree + carried paths
FORMAT = "latent-studio-pack"
PACK_NAME = "cats64.npz"
SITE_NAME = "site.tar.xz"
#: Packages the device image lacks (KINDS.md, read 2026-11-17): everything else the trainers import
#: (torch, numpy, pillow, safetensors, huggingface-hub ≥ 1.32, accelerate, tqdm, regex, requests,
#: filelock) is there; importlib_metadata, in diffusers' requirements, is only used before Python 3.8.
DEVICE_MISSING = ("diffusers",)
QUALITIES = (95, 90, 85, 80, 75, 70, 60, 50)
#: (class name, default folder, validation share): the shares the trainers use (GAN and DDPM agree).
CLASSES = (("cat", "../shared/data/cats", 0.05), ("grumpy cat", "../shared/data/grumpy", 0.1))
PIP_PLATFORM = ["--only-binary=:all:", "--python-version", "3.12", "--implementation", "cp",
                "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_27_x86_64",
                "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64",
                "--platform", "manylinux1_x86_64"]


def mib(n: float) -> str:
    return f"{n / 2 ** 20:.1f} MiB"


# ----------------------------------------------------------------------------------------------
# The data pack

def encode(images: torch.Tensor, quality: int, threads: int = 2) -> list[bytes]:
    """uint8 [N, 3, R, R] → WebP bytes per image (quality 100 = lossless)."""
    arrays = images.permute(0, 2, 3, 1).numpy()

    def one(a: np.ndarray) -> bytes:
        buf = io.BytesIO()
        kw = dict(lossless=True) if quality >= 100 else dict(quality=quality, method=6)
        Image.fromarray(a).save(buf, "WEBP", **kw)
        return buf.getvalue()
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, arrays))


def write_pack(path: Path, classes: Sequence[tuple[str, list[str], list[bytes], dict]], meta: dict) -> Path:
    """One .npz (no pickles): per class names, offsets and the concatenated encoded bytes."""
    arrays: dict[str, np.ndarray] = {}
    entries = []
    for i, (name, names, blobs, info) in enumerate(classes):
        offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        arrays[f"c{i}_names"] = np.array(names, dtype=str)
        arrays[f"c{i}_offsets"] = offsets
        arrays[f"c{i}_bytes"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        entries.append({"name": name, **info, "files": len(names)})
    meta = {"format": FORMAT, "version": 1, **meta, "classes": entries}
    arrays["meta"] = np.array(json.dumps(meta))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)
    return path


def decode_one(data: bytes) -> np.ndarray:
    """WebP bytes → uint8 [R, R, 3]; OpenCV (also on the device image) if this Pillow lacks WebP."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return np.asarray(img.convert("RGB"))
    except OSError:
        import cv2
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1].copy()


def read_pack(path: str | Path, threads: int = 8) -> tuple[dict, dict[str, tuple[list[str], torch.Tensor]]]:
    """(meta, {class name: (file names, uint8 [N, 3, R, R])}); checks no validation photo slipped in."""
    from engines import data as datasets
    from engines.base import LatentStudioError
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != FORMAT:
            raise LatentStudioError(f"{path} is not a {FORMAT} file.")
        out = {}
        for i, entry in enumerate(meta["classes"]):
            names = [str(n) for n in z[f"c{i}_names"]]
            offsets, blob = z[f"c{i}_offsets"], z[f"c{i}_bytes"].tobytes()

            def decode(j: int) -> np.ndarray:
                return decode_one(blob[offsets[j]:offsets[j + 1]])
            with ThreadPoolExecutor(threads) as pool:
                pixels = np.stack(list(pool.map(decode, range(len(names)))))
            held_out = [n for n in names if datasets.is_validation(n, entry["val_fraction"])]
            if held_out:
                raise LatentStudioError(f"{path}: {len(held_out)} validation photos of {entry['name']!r} are packed.")
            out[entry["name"]] = (names, torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous())
    return meta, out


def load_classes(folders: dict[str, str], resolution: int) -> list[tuple[str, list[str], torch.Tensor, dict]]:
    """The training split of each class folder, loaded exactly as the trainers load it."""
    from engines import data as datasets
    shares = {name: share for name, _, share in CLASSES}
    loaded = []
    for name, folder in folders.items():
        files = datasets.list_images(folder)
        train, val = datasets.split(files, shares[name])
        images = datasets.load_images(train, resolution)
        loaded.append((name, [f.name for f in train], images,
                       {"folder": Path(folder).name, "val_fraction": shares[name], "held_out": len(val)}))
    return loaded


def pack_data(folders: dict[str, str], out: Path, budget: Optional[int], quality: str = "auto",
              resolution: int = 64, threads: int = 2) -> dict:
    """Encode every class at the best quality whose pack fits ``budget`` bytes; returns its meta."""
    loaded = load_classes(folders, resolution)
    if quality != "auto":
        tries = [int(quality)]
    else:  # estimate from a sample, then encode everything and step down if the estimate was short
        samples = [(x[:: max(1, len(x) // 200)], len(x)) for _, _, x, _ in loaded]

        def estimate(q: int) -> float:
            return sum(sum(map(len, encode(s, q, threads))) * n / len(s) for s, n in samples)
        first = 0 if budget is None else next(
            (i for i, q in enumerate(QUALITIES) if estimate(q) < 0.97 * budget), len(QUALITIES) - 1)
        tries = list(QUALITIES[first:])
    for q in tries:
        classes = [(name, names, encode(x, q, threads), info) for name, names, x, info in loaded]
        size = sum(len(b) for c in classes for b in c[2])
        if budget is None or size < budget - 2 ** 16 or q == tries[-1]:
            break
    sample_psnr = psnr(loaded[0][2][:200], q)
    write_pack(out, classes, {"resolution": resolution, "codec": "webp", "quality": q, "psnr_db": sample_psnr})
    return {"quality": q, "bytes": out.stat().st_size, "psnr_db": sample_psnr,
            "classes": {name: len(names) for name, names, _, _ in classes}}


def psnr(images: torch.Tensor, quality: int) -> float:
    """PSNR (dB) of the re-encoding on a sample: how much the pack changes the pixels."""
    if quality >= 100:
        return float("inf")
    decoded = [np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in encode(images, quality)]
    ref = images.permute(0, 2, 3, 1).numpy().astype(np.float64)
    mse = ((np.stack(decoded).astype(np.float64) - ref) ** 2).mean()
    return round(float(10 * np.log10(255 ** 2 / max(mse, 1e-12))), 2)


# ----------------------------------------------------------------------------------------------
# Wheels

def pack_site(out: Path, packages: Sequence[str] = DEVICE_MISSING, cache: Optional[Path] = None) -> dict:
    """pip download each package at the version installed here (CPython 3.12 manylinux, no deps), unpack
    the wheels into one folder and write it as ``site.tar.xz``; checks the unpacked tree imports."""
    from importlib.metadata import version
    cache = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "latent-studio-wheels"
    cache.mkdir(parents=True, exist_ok=True)
    pins = [f"{p}=={version(p)}" for p in packages]
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", *PIP_PLATFORM, "-d", str(cache), *pins],
                   check=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        wheels = []
        for pin in pins:
            name, ver = pin.split("==")
            found = sorted(cache.glob(f"{name.replace('-', '_')}-{ver}-*.whl"))
            if not found:
                raise SystemExit(f"pip downloaded no wheel for {pin} into {cache}")
            with zipfile.ZipFile(found[-1]) as whl:
                whl.extractall(site)
            wheels.append(found[-1].name)
        check = subprocess.run([sys.executable, "-c", "import sys, diffusers; print(diffusers.__file__)"],
                               env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True)
        if check.returncode or not check.stdout.strip().startswith(str(site)):
            raise SystemExit(f"the unpacked wheels do not import: {check.stderr or check.stdout}")
        out.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(out, "w:xz") as tar:
            for child in sorted(site.iterdir()):
                tar.add(child, arcname=child.name)
    return {"wheels": wheels, "bytes": out.stat().st_size}


# ----------------------------------------------------------------------------------------------
# Budget and the call to make

def tree_bytes(root: Path = ROOT) -> int:
    """What the device tool sends besides ``carry``: tracked and untracked-not-ignored files (+ shared/)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                            capture_output=True, check=True).stdout.split(b"\0")
    total = 0
    for rel in filter(None, listed):
        p = root / os.fsdecode(rel)
        if p.is_file() and not p.is_symlink():
            total += p.stat().st_size
    shared = root / "shared"
    if shared.is_dir():
        total += sum(p.stat().st_size for p in shared.rglob("*") if p.is_file() and not p.is_symlink())
    return total


def folder_bytes(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else 0


def run_call(carry: Sequence[str], env: str = "") -> dict:
    """The device tool's arguments: one command, the carried folders, the longest limit."""
    command = f"{env + ' ' if env else ''}bash bench/gpu/train_burst.sh"
    assert len(command) < 2000
    return {"command": command, "carry": list(carry), "timeout_s": 600}


def copy_resume(src: Optional[str], dest: Path, kind: str, with_state: bool = False) -> None:
    """Put what a stage continues from into ``dest`` (carried with the data): a model folder as it is;
    from a run folder its ``latest/`` (fine-tune), or with ``with_state`` also a compact state (exact
    resume; GAN ≈ 16 MB, DDPM ≈ 26 MB, which the 64 MiB rarely leaves room for)."""
    if dest.exists():
        shutil.rmtree(dest)
    if not src:
        return
    src_path = Path(src)
    if not (src_path / "latest").is_dir():
        shutil.copytree(src_path, dest, ignore=shutil.ignore_patterns("README.md", "directions", "grid_*.png"))
        return
    if not with_state:
        shutil.copytree(src_path / "latest", dest)
        return
    shutil.copytree(src_path / "latest", dest / "latest")
    if (src_path / "log.jsonl").is_file():
        shutil.copy(src_path / "log.jsonl", dest / "log.jsonl")
    if (src_path / COMPACT_NAME).is_file():
        shutil.copy(src_path / COMPACT_NAME, dest / COMPACT_NAME)
    else:
        write_compact(src_path, kind, dest / COMPACT_NAME)
    assert not (dest / STATE_NAME).exists()


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cats", default=CLASSES[0][1])
    ap.add_argument("--grumpy", default=CLASSES[1][1])
    ap.add_argument("--data-dir", default=str(ROOT / ".data"), help="where the pack goes (carried)")
    ap.add_argument("--whl-dir", default=str(ROOT / ".whl"), help="where site.tar.xz goes (carried)")
    ap.add_argument("--quality", default="auto", help="WebP quality 1..100 (100 = lossless) or 'auto' (fit the budget)")
    ap.add_argument("--margin-mib", type=float, default=2.0, help="room left for the tree to grow before the call")
    ap.add_argument("--resume-gan", help="a GAN model folder or burst run folder to continue from (else weights/)")
    ap.add_argument("--resume-ddpm", help="a DDPM pipeline folder or burst run folder to continue from")
    ap.add_argument("--resume-state", action="store_true",
                    help="with a run folder, carry its compact state too (exact resume) instead of latest/ alone")
    ap.add_argument("--min-quality", type=int, default=80, help="refuse to pack the photos below this WebP quality")
    ap.add_argument("--no-wheels", action="store_true", help="skip the wheels (keep an existing site.tar.xz)")
    ap.add_argument("--no-budget", action="store_true", help="do not fit the 64 MiB limit (tests)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    data_dir, whl_dir = Path(args.data_dir), Path(args.whl_dir)
    site = whl_dir / SITE_NAME
    if not args.no_wheels:
        info = pack_site(site)
        print(f"wheels: {', '.join(info['wheels'])} → {site} ({mib(info['bytes'])})")
    copy_resume(args.resume_gan, data_dir / "resume" / "gan", "gan", args.resume_state)
    copy_resume(args.resume_ddpm, data_dir / "resume" / "ddpm", "ddpm", args.resume_state)
    (data_dir / PACK_NAME).unlink(missing_ok=True)
    tree = tree_bytes()
    fixed = tree + folder_bytes(whl_dir) + folder_bytes(data_dir)
    budget = None if args.no_budget else int(LIMIT - args.margin_mib * 2 ** 20 - fixed)
    if budget is not None and budget < 2 ** 20:
        raise SystemExit(f"no room for the data: tree {mib(tree)} + carried {mib(fixed - tree)} of {mib(LIMIT)}")
    folders = {"cat": args.cats, "grumpy cat": args.grumpy}
    info = pack_data(folders, data_dir / PACK_NAME, budget, args.quality, threads=args.threads)
    total = fixed + info["bytes"]
    if info["quality"] < args.min_quality and args.quality == "auto":
        raise SystemExit(f"the photos fit only at WebP quality {info['quality']} (< --min-quality {args.min_quality}): "
                         f"carry less (no --resume-*, no --resume-state) or free room in the tree")
    print(f"data: {info['classes']} training photos, WebP q{info['quality']} (PSNR {info['psnr_db']} dB against "
          f"the photos) → {data_dir / PACK_NAME} ({mib(info['bytes'])})")
    print(f"sends: tree {mib(tree)} + carried {mib(total - tree)} = {mib(total)} of {mib(LIMIT)}")
    carry = [os.path.relpath(p, ROOT) for p in (data_dir, whl_dir) if p.exists()]
    print("device call:", json.dumps(run_call(carry)))
    return 0 if args.no_budget or total <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
