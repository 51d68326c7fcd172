"""Files the UI hands back for download (latents, GIF/MP4, results), all inside one temp folder.

Each job writes into its own fresh sub-folder of the app's temp dir, so concurrent jobs never
overwrite each other and nothing is written anywhere else.
"""
from __future__ import annotations

import atexit
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from engines import imaging
from engines.base import Result
from engines.stylegan.latents import save_latents

_ROOT = Path(tempfile.mkdtemp(prefix="latent-studio-"))
# The folder lives as long as the app (Gradio serves files from it) and goes with the process.
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


def job_dir(kind: str) -> Path:
    folder = _ROOT / f"{kind}-{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True)
    return folder


def save_latent(record: dict[str, np.ndarray], kind: str = "latent", name: str = "latent.npz") -> str:
    return str(save_latents(job_dir(kind) / name, record))


def save_image(image: Image.Image, kind: str, name: str = "image.png") -> str:
    """``image`` as a PNG file of its own, for outputs that show a picture another output also shows (a
    before/after pair, the history): Gradio caches a file path by copying it atomically, whereas it re-writes
    the cache file of an in-memory image each time the same picture is sent, and a browser still loading the
    first copy then gets a broken response ("Too much data for declared Content-Length")."""
    path = job_dir(kind) / name
    image.save(path)
    return str(path)


def save_pair(before: Image.Image, after: Image.Image, kind: str) -> tuple[str, str]:
    """A before/after pair for a ``gr.ImageSlider`` (see `save_image`)."""
    return save_image(before, kind, "before.png"), save_image(after, kind, "after.png")


def save_animation(frames: Sequence[Image.Image], kind: str, suffix: str = ".gif", fps: float = 12) -> str:
    return str(imaging.save_animation(frames, job_dir(kind) / f"animation{suffix}", fps=fps))


def save_json(data: Any, kind: str, name: str = "metrics.json") -> str:
    path = job_dir(kind) / name
    path.write_text(json.dumps(data, indent=1, default=lambda v: plain(v) if isinstance(v, (np.generic, np.ndarray))
                               else str(v)))
    return str(path)


def save_result(result: Result, kind: str) -> str:
    """The whole result (images, latents, metrics/timings/options JSON) as one zip to download."""
    import shutil
    folder = job_dir(kind)
    result.save(folder / "result", prefix=kind)
    return shutil.make_archive(str(folder / kind), "zip", folder / "result")


def table(rows: Any, header: tuple[str, str] = ("", "")) -> str:
    """A markdown table of (name, value) rows for metrics panels: numbers rounded, lists shortened, never a
    Python object's repr."""
    def cell(v: Any) -> str:
        v = plain(v)
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, (list, tuple)):
            shown = ", ".join(cell(x) for x in v[:8])
            return shown + (f", … ({len(v)} values)" if len(v) > 8 else "")
        if isinstance(v, dict):
            return "; ".join(f"{k} {cell(x)}" for k, x in v.items())
        return "—" if v is None else str(v).replace("|", "/")
    items = rows.items() if isinstance(rows, dict) else rows
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {name} | {cell(value)} |" for name, value in items]
    return "\n".join(lines)


def plain(v: Any) -> Any:
    """NumPy scalars and arrays as Python numbers and lists (for JSON and tables)."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def pretty(data: Any) -> str:
    """A small JSON block for metrics panels (floats rounded, NumPy values as numbers)."""
    def clean(v: Any) -> Any:
        v = plain(v)
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v][:50]
        return v
    return json.dumps(clean(data), indent=1, default=str)
