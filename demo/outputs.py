"""Files the UI hands back for download (latents, GIF/MP4, results), all inside one temp folder.

Each job writes into its own fresh sub-folder of the app's temp dir, so concurrent jobs never
overwrite each other and nothing is written anywhere else.
"""
from __future__ import annotations

import json
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


def job_dir(kind: str) -> Path:
    folder = _ROOT / f"{kind}-{uuid.uuid4().hex[:10]}"
    folder.mkdir(parents=True)
    return folder


def save_latent(record: dict[str, np.ndarray], kind: str = "latent", name: str = "latent.npz") -> str:
    return str(save_latents(job_dir(kind) / name, record))


def save_animation(frames: Sequence[Image.Image], kind: str, suffix: str = ".gif", fps: float = 12) -> str:
    return str(imaging.save_animation(frames, job_dir(kind) / f"animation{suffix}", fps=fps))


def save_result(result: Result, kind: str) -> str:
    """The whole result (images, latents, metrics/timings/options JSON) as one zip to download."""
    import shutil
    folder = job_dir(kind)
    result.save(folder / "result", prefix=kind)
    return shutil.make_archive(str(folder / kind), "zip", folder / "result")


def pretty(data: Any) -> str:
    """A small JSON block for metrics panels (floats rounded)."""
    def clean(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [clean(x) for x in v][:50]
        return v
    return json.dumps(clean(data), indent=1, default=str)
