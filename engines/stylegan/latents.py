"""Latent codes on disk: ``.npz`` with the code, its space and the fingerprint of the model it belongs to.

Keys: ``latent`` (float32; z/w: [N, dim], w+: [N, num_ws, w_dim]), ``space`` ("z", "w", "w+"),
``arch`` and ``fingerprint`` (see `GanBundle.fingerprint`), and, for a StyleGAN2 inversion that optimised
them, the per-image noise maps ``noise.<layer>`` (float32 [N, 1, r, r], layer names as
`SynthesisNetwork.noise_layers`), and for a dragged image the drag's warp of one block's output
``noise.warp<r>`` (float32 [N, 2, r, r], `drag_features.WARP_PREFIX`; it rides with the noise maps so that every
renderer draws the dragged image). Loading checks all of them, so a latent from another model or of the
wrong shape is a clear error instead of a strange image. `read_latent` is the one way back from a file or record to
tensors (latent, space, noise maps).
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..base import LatentStudioError
from .drag_features import warp_key, warp_resolution


def latent_shape(G: Any, space: str) -> tuple[int, ...]:
    """Shape of one latent in ``space`` for generator ``G`` (without the batch dimension)."""
    if space not in G.spaces:
        raise LatentStudioError(f"{G.arch} has no {space!r} space; it supports {', '.join(G.spaces)}.")
    if space == "z":
        return (G.z_dim,)
    if space == "w":
        return (G.w_dim,)
    return (G.num_ws, G.w_dim)


NOISE_PREFIX = "noise."


def _array(x: torch.Tensor | np.ndarray) -> np.ndarray:
    return (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)).astype(np.float32)


def latent_record(latent: torch.Tensor | np.ndarray, space: str, arch: str, fingerprint: str,
                  noise: Optional[dict[str, torch.Tensor | np.ndarray]] = None) -> dict[str, np.ndarray]:
    """The dict stored in ``Result.latents`` and written by `save_latents` (with the noise maps, if any)."""
    record = {"latent": _array(latent), "space": np.array(space), "arch": np.array(arch),
              "fingerprint": np.array(fingerprint)}
    for name, maps in (noise or {}).items():
        record[NOISE_PREFIX + name] = _array(maps)
    return record


def is_latent_source(src: Any) -> bool:
    """Whether ``src`` names a latent (a record dict or a ``.npz`` path) rather than an image."""
    return isinstance(src, dict) or (isinstance(src, (str, Path)) and Path(src).suffix.lower() == ".npz")


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


def load_noise(src: str | Path | dict, G: Any, n: int) -> Optional[dict[str, torch.Tensor]]:
    """The noise maps stored with a latent (``noise.<layer>`` entries), checked against ``G``'s noise layers and
    the latent's batch ``n``; None when the file has none (render with the model's constant noise)."""
    data = src if isinstance(src, dict) else _read_npz(src)
    stored = {k[len(NOISE_PREFIX):]: v for k, v in data.items() if k.startswith(NOISE_PREFIX)}
    if not stored:
        return None
    layers = G.synthesis.noise_layers() if hasattr(G, "synthesis") and hasattr(G.synthesis, "noise_layers") else {}
    blocks = list(getattr(getattr(G, "synthesis", None), "block_resolutions", []))
    warps = {k: r for k in stored if (r := warp_resolution(k)) is not None}
    unknown = sorted(k for k in set(stored) - set(layers) if warps.get(k) not in blocks)
    if unknown:
        raise LatentStudioError(f"The latent file holds noise maps for layers this model does not have: {unknown}; "
                                f"its noise layers are {sorted(layers) or 'none'}"
                                f"{f' and drag warps {[warp_key(r) for r in blocks]}' if blocks else ''}.")
    missing = sorted(set(layers) - set(stored))
    if missing and len(missing) < len(layers):  # a dragged sample holds its warp alone: the model's constant noise
        raise LatentStudioError(f"The latent file's noise maps miss the layers {missing}.")
    noise = {}
    for name, raw in stored.items():
        r, k = (warps[name], 2) if name in warps else (layers[name].resolution, 1)
        arr = np.asarray(raw)
        if arr.dtype.kind not in "fiub" or arr.shape != (n, k, r, r):
            raise LatentStudioError(f"The {'drag warp' if k == 2 else 'noise map'} {name!r} must be real numbers of "
                                    f"shape [{n}, {k}, {r}, {r}], got {list(arr.shape)} ({arr.dtype}).")
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(np.float32)
        if not np.isfinite(arr).all():
            raise LatentStudioError(f"The noise map {name!r} holds NaN or infinite values.")
        noise[name] = torch.from_numpy(np.ascontiguousarray(arr))
    return noise


def read_latent(src: str | Path | dict, G: Any, fingerprint: str, arch: str, *, with_noise: bool = True
                ) -> tuple[torch.Tensor, str, Optional[dict[str, torch.Tensor]]]:
    """A latent file or record → ``(latent [N, …], space, noise maps or None)``, checked by `load_latents` and
    `load_noise` (the file is read once); ``with_noise=False`` leaves the maps unread (None)."""
    data = src if isinstance(src, dict) else _read_npz(src)
    latent, space = load_latents(data, G, fingerprint, arch)
    return latent, space, load_noise(data, G, latent.shape[0]) if with_noise else None
