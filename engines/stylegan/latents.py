"""Latent codes on disk: ``.npz`` with the code, its space and the fingerprint of the model it belongs to.

Keys: ``latent`` (float32; z/w: [N, dim], w+: [N, num_ws, w_dim]), ``space`` ("z", "w", "w+"),
``arch`` and ``fingerprint`` (see `GanBundle.fingerprint`). Loading checks all of them, so a latent
from another model or of the wrong shape is a clear error instead of a strange image.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..base import LatentStudioError


def latent_shape(G: Any, space: str) -> tuple[int, ...]:
    """Shape of one latent in ``space`` for generator ``G`` (without the batch dimension)."""
    if space not in G.spaces:
        raise LatentStudioError(f"{G.arch} has no {space!r} space; it supports {', '.join(G.spaces)}.")
    if space == "z":
        return (G.z_dim,)
    if space == "w":
        return (G.w_dim,)
    return (G.num_ws, G.w_dim)


def latent_record(latent: torch.Tensor | np.ndarray, space: str, arch: str, fingerprint: str) -> dict[str, np.ndarray]:
    """The dict stored in ``Result.latents`` and written by `save_latents`."""
    arr = latent.detach().cpu().numpy() if isinstance(latent, torch.Tensor) else np.asarray(latent)
    return {"latent": arr.astype(np.float32), "space": np.array(space), "arch": np.array(arch),
            "fingerprint": np.array(fingerprint)}


def save_latents(path: str | Path, record: dict[str, np.ndarray]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **record)
    return path


#: Largest array a latent file may hold (bytes, uncompressed): real latents are a few KB to a few MB.
MAX_LATENT_BYTES = 256 * 2**20


def _read_npz(src: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a latent ``.npz``, never unpickling anything and refusing oversized entries."""
    path = Path(src).expanduser()
    name = path.name
    if not path.is_file():
        raise LatentStudioError(f"No such latent file: {str(path)!r}.")
    if not zipfile.is_zipfile(path):
        raise LatentStudioError(f"{name} is not a latent .npz file (it is not a NumPy .npz archive; "
                                "latents are saved by Latent Studio as .npz).")
    try:
        with np.load(path, allow_pickle=False) as npz:
            for info in npz.zip.infolist():  # sizes from the archive's directory, before decompressing
                if info.file_size > MAX_LATENT_BYTES:
                    raise LatentStudioError(f"{name} holds an entry {info.filename!r} of {info.file_size} bytes; a "
                                            f"latent file holds at most {MAX_LATENT_BYTES} bytes per entry.")
            return {k: npz[k] for k in npz.files}
    except LatentStudioError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object arrays" in str(exc).lower():
            raise LatentStudioError(f"{name} holds Python objects (pickled data), which Latent Studio never loads: "
                                    "a latent file holds only numeric arrays and text.") from exc
        raise LatentStudioError(f"{name} is not a readable latent .npz file ({exc}).") from exc
    except (OSError, zipfile.BadZipFile, EOFError, KeyError, RuntimeError) as exc:
        raise LatentStudioError(f"{name} is not a readable latent .npz file ({type(exc).__name__}: {exc}).") from exc


def _text(value: Any, key: str) -> str:
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "US":
        raise LatentStudioError(f"The latent file's {key!r} entry must be one string, got an array of "
                                f"shape {list(arr.shape)} and type {arr.dtype}.")
    return str(arr)


def load_latents(src: str | Path | dict, G: Any, fingerprint: str, arch: str) -> tuple[torch.Tensor, str]:
    """Read a latent file (or record) for generator ``G``; returns ``(latent [N, …], space)``.

    Refuses what is not a latent ``.npz`` (pickled objects are never loaded: ``allow_pickle=False``),
    non-numeric or non-finite values, the wrong shape, and latents made with another model.
    """
    data = src if isinstance(src, dict) else _read_npz(src)
    if "latent" not in data or "space" not in data:
        raise LatentStudioError("The latent file has no 'latent' and 'space' entries (save it from Latent Studio).")
    space = _text(data["space"], "space")
    raw = np.asarray(data["latent"])
    if raw.dtype.kind not in "fiub":  # float, int, unsigned, bool; not text, complex, objects or dates
        raise LatentStudioError(f"The latent file's 'latent' entry must hold real numbers, got type {raw.dtype}.")
    if "fingerprint" in data and _text(data["fingerprint"], "fingerprint") != fingerprint:
        other = _text(data["arch"], "arch") if "arch" in data else "?"
        raise LatentStudioError(f"This latent was made with another model ({other}, fingerprint "
                                f"{_text(data['fingerprint'], 'fingerprint')}); the loaded model is {arch}, "
                                f"fingerprint {fingerprint}.")
    expected = latent_shape(G, space)
    latent = raw
    if latent.shape == expected:
        latent = latent[None]
    if latent.ndim < 1 or latent.shape[1:] != expected or latent.shape[0] == 0:
        raise LatentStudioError(f"A {space} latent for this model has shape [N, {', '.join(map(str, expected))}] "
                                f"with N >= 1, the file holds {list(raw.shape)}.")
    with np.errstate(over="ignore", invalid="ignore"):
        latent = latent.astype(np.float32)  # values beyond float32 become inf and are refused below
    if not np.isfinite(latent).all():
        raise LatentStudioError("The latent file holds NaN or infinite values (or values too large for float32).")
    return torch.from_numpy(np.ascontiguousarray(latent)), space
