"""Training data: list a folder of images, split off a fixed validation set, load it as one tensor.

The split is decided per file by a hash of its name, so training, benchmarks and later runs agree on
which photos are held out without storing a list, and adding files never moves old ones across.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from .base import LatentStudioError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")


def list_images(folder: str | Path) -> list[Path]:
    """All image files directly in ``folder`` (sorted); a clear error when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LatentStudioError(f"Training data folder {folder} does not exist.")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise LatentStudioError(f"No images ({', '.join(IMAGE_SUFFIXES)}) in {folder}.")
    return files


def is_validation(path: str | Path, fraction: float) -> bool:
    """True when the file belongs to the held-out split (stable: depends only on the file name)."""
    digest = hashlib.md5(Path(path).name.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < fraction


def split(files: Sequence[Path], val_fraction: float = 0.05) -> tuple[list[Path], list[Path]]:
    """(train, validation) lists; the validation share is ``val_fraction`` of the files, give or take."""
    train = [f for f in files if not is_validation(f, val_fraction)]
    val = [f for f in files if is_validation(f, val_fraction)]
    return train, val


def load_images(files: Sequence[Path], resolution: int) -> torch.Tensor:
    """uint8 tensor [N, 3, R, R]; images are centre-cropped to a square and resized when needed."""
    out = np.empty((len(files), resolution, resolution, 3), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as img:
                img = img.convert("RGB")
                if img.size != (resolution, resolution):
                    side = min(img.size)
                    left, top = (img.width - side) // 2, (img.height - side) // 2
                    img = img.crop((left, top, left + side, top + side)).resize(
                        (resolution, resolution), Image.Resampling.LANCZOS)
                out[i] = np.asarray(img)
        except OSError as exc:
            raise LatentStudioError(f"Could not read training image {path}: {exc}") from exc
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def to_float(batch: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float [-1, 1] (the range every network here uses)."""
    return batch.to(torch.float32) / 127.5 - 1


def load_split(folder: str | Path, resolution: int, val_fraction: float = 0.05,
               part: str = "train") -> torch.Tensor:
    """Load the "train" or "val" (or "all") part of a folder as uint8 [N, 3, R, R]."""
    files = list_images(folder)
    if part == "all":
        chosen = files
    else:
        train, val = split(files, val_fraction)
        chosen = {"train": train, "val": val}.get(part)
        if chosen is None:
            raise ValueError(f"part must be 'train', 'val' or 'all', not {part!r}")
    if not chosen:
        raise LatentStudioError(f"The {part} split of {folder} is empty ({len(files)} images, "
                                f"validation fraction {val_fraction}).")
    return load_images(chosen, resolution)
