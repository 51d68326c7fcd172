"""Direction files and edits: save/load ``.npz`` (checked against the model's fingerprint), apply per strength.

Finding directions lives in `directions`; this module is what the CLI ``edit`` command, the engine's
``edit`` and the UI use to turn a saved direction into edited images.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..base import LatentStudioError, Result, Timer, as_list, check_range
from ..sources import safe_join
from .directions import _NAME, Direction, _invert, _unit, apply, edit_space, latent_dim, parse_layers


# ----------------------------------------------------------------------------------------------
# Files

def save_direction(direction: Direction, folder: str | Path) -> Path:
    """Write ``folder/NAME.npz`` (vector, name, space, method, fingerprint, meta as JSON)."""
    if not _NAME.match(direction.name or ""):
        raise LatentStudioError(f"Direction name {direction.name!r} must be letters, digits, '_', '-' or '.'.")
    path = Path(folder) / f"{direction.name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vector=_unit(direction.vector, direction.name), name=np.array(direction.name),
             space=np.array(direction.space), method=np.array(direction.method),
             fingerprint=np.array(direction.fingerprint or ""), meta=np.array(json.dumps(direction.meta, default=float)))
    return path


def _read_file(path: Path, engine: Any) -> Direction:
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):  # bare .npy: an InterFaceGAN boundary [1, dim] or [dim]
            if data.ndim > 2 or (data.ndim == 2 and data.shape[0] != 1):
                raise LatentStudioError(f"{path.name} holds an array of shape {list(data.shape)}; a direction is [dim] or [1, dim].")
            return Direction(path.stem, _unit(data, path.name), edit_space(engine.G), "file", "", {"source": path.name})
        with data:
            if "vector" not in data.files:
                raise LatentStudioError(f"{path.name} is not a direction file (no 'vector'; save it with Latent Studio).")
            get = lambda k, d="": str(data[k]) if k in data.files else d  # noqa: E731
            meta = json.loads(get("meta", "{}"))
            return Direction(get("name", path.stem), _unit(data["vector"], path.name), get("space", "w"),
                             get("method", "file"), get("fingerprint"), meta if isinstance(meta, dict) else {})
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        raise LatentStudioError(f"{path.name} is not a readable direction file ({exc}).") from exc


def check_direction(direction: Direction, engine: Any) -> Direction:
    """Refuse directions of another model (fingerprint), another space, or the wrong dimension."""
    if direction.fingerprint and direction.fingerprint != engine.fingerprint:
        raise LatentStudioError(f"Direction {direction.name!r} was made for model fingerprint {direction.fingerprint}; "
                                f"the loaded model ({engine.arch}) has fingerprint {engine.fingerprint}.")
    space, dim = edit_space(engine.G), latent_dim(engine.G)
    if direction.space != space:
        raise LatentStudioError(f"Direction {direction.name!r} is in {direction.space} space; {engine.arch} edits in {space}.")
    vec = _unit(direction.vector, repr(direction.name))
    if vec.size != dim:
        raise LatentStudioError(f"Direction {direction.name!r} has dimension {vec.size}; this model's {space} has {dim}.")
    direction.vector = vec
    return direction


def load_direction(src: Any, engine: Any) -> Direction:
    """A `Direction`, a ``.npz``/``.npy`` path, or a NAME in the model folder's ``directions/``; checked against ``engine``."""
    if isinstance(src, Direction):
        return check_direction(src, engine)
    path = Path(str(src)).expanduser()
    if path.suffix.lower() in (".npz", ".npy") or path.is_file():
        if not path.is_file():
            raise LatentStudioError(f"No such direction file: {str(path)!r}.")
        return check_direction(_read_file(path, engine), engine)
    folder = engine.bundle.folder / "directions" if engine.bundle.folder is not None else None
    names = sorted({p.stem for p in folder.glob("*.np[yz]")}) if folder is not None and folder.is_dir() else []
    if _NAME.match(str(src)) and str(src) in names:
        name = f"{src}.npz" if (folder / f"{src}.npz").is_file() else f"{src}.npy"
        return check_direction(_read_file(safe_join(folder, name), engine), engine)   # no symlinks out
    where = f"{folder}" if folder is not None else "this model (it has no folder)"
    raise LatentStudioError(f"Unknown direction {str(src)!r}: not a .npz/.npy file, and not in {where}. "
                            f"Available names: {', '.join(names) if names else 'none'}.")


# ----------------------------------------------------------------------------------------------
# Editing

@torch.no_grad()
def to_edit_latent(engine: Any, latent: torch.Tensor, space: str) -> tuple[torch.Tensor, str]:
    """Any latent of ``engine`` → the latent edits act on: w+ for StyleGAN2, z for DCGAN."""
    if edit_space(engine.G) == "z":
        return latent, "z"
    return engine.G.to_wplus(latent.to(engine.device), space), "w+"


def edit(engine: Any, latent_src: Any, direction: Any, strengths: Sequence[float], layers: Any = None,
         condition: Any = None, *, invert_options: Optional[dict] = None) -> Result:
    """Images of the first latent of ``latent_src`` (latent file/record, or an image to invert) moved per strength.

    ``metrics["pixel_change"]`` is the mean absolute change (8-bit levels) against strength 0, per strength.
    """
    timer = Timer()
    direction = load_direction(direction, engine)
    conds = [load_direction(c, engine) for c in as_list(condition)] if condition is not None else None
    strengths = [float(s) for s in as_list(strengths)]
    if not strengths:
        raise LatentStudioError("Give at least one strength.")
    for s in strengths:
        check_range("Strength", s, -1000.0, 1000.0)
    if layers is not None and edit_space(engine.G) == "z":
        raise LatentStudioError(f"{engine.arch} has no w+ layers; leave the layer range out.")
    span = parse_layers(layers, engine.G.num_ws) if layers is not None else None
    with timer("load"):
        if isinstance(latent_src, dict) or (isinstance(latent_src, (str, Path))
                                            and Path(latent_src).suffix.lower() == ".npz"):
            latent, space = engine.load_latent(latent_src)
            source = "latent"
        else:
            space = "w+" if edit_space(engine.G) == "w" else "z"
            latent, space = _invert(engine, [latent_src], space, invert_options)
            source = "image"
        latent, space = to_edit_latent(engine, latent[:1], space)
    with timer("render"):
        base = np.asarray(engine.synthesize(latent, space)[0], dtype=np.float32)
        edited = torch.cat([apply(latent, direction, s, span, conds) for s in strengths])
        # one at a time, like the original: batched kernels may differ in the last bit, and strength 0 should not
        images = [engine.synthesize(e[None], space)[0] for e in edited]
    change = [float(np.abs(np.asarray(im, dtype=np.float32) - base).mean()) for im in images]
    return Result(images=images, latents=engine.latent_record(edited, space),
                  metrics={"strengths": strengths, "pixel_change": change}, timings=timer.timings,
                  options={"direction": direction.name, "method": direction.method, "space": direction.space,
                           "strengths": strengths, "layers": list(span) if span else "all",
                           "condition": [c.name for c in conds] if conds else None, "source": source,
                           "invert_options": invert_options or {}})
