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


def load_latents(src: str | Path | dict, G: Any, fingerprint: str, arch: str) -> tuple[torch.Tensor, str]:
    """Read a latent file (or record) for generator ``G``; returns ``(latent [N, …], space)``.

    Refuses non-finite values, the wrong shape, and latents made with another model.
    """
    if isinstance(src, dict):
        data = src
    else:
        try:
            with np.load(src, allow_pickle=False) as npz:
                data = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
            raise LatentStudioError(f"{Path(src).name} is not a latent .npz file ({exc}).") from exc
    if "latent" not in data or "space" not in data:
        raise LatentStudioError("The latent file has no 'latent' and 'space' entries (save it from Latent Studio).")
    space = str(data["space"])
    latent = np.asarray(data["latent"], dtype=np.float32)
    if "fingerprint" in data and str(data["fingerprint"]) != fingerprint:
        raise LatentStudioError(f"This latent was made with another model ({data.get('arch', '?')!s}, fingerprint "
                                f"{data['fingerprint']!s}); the loaded model is {arch}, fingerprint {fingerprint}.")
    expected = latent_shape(G, space)
    if latent.shape == expected:
        latent = latent[None]
    if latent.shape[1:] != expected:
        raise LatentStudioError(f"A {space} latent for this model has shape [N, {', '.join(map(str, expected))}], "
                                f"the file holds {list(latent.shape)}.")
    if not np.isfinite(latent).all():
        raise LatentStudioError("The latent file holds NaN or infinite values.")
    return torch.from_numpy(latent), space
