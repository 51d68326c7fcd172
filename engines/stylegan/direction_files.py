"""Direction files: read the direction files users have (data only), check them against the model, save ours.

Finding directions lives in `directions` (core); applying one to a latent or a photo per strength is `editing`.
This module is what turns a file or a NAME in the model folder's ``directions/`` into a checked `Direction`
(`load_direction`), for the engine's ``edit``, the CLI's ``edit`` / ``directions`` and the Edit tab.

Files are read as data only: numpy with ``allow_pickle=False`` and torch with ``weights_only=True``, so
a file that holds anything but numbers is refused and no code in it ever runs. The formats:

* Latent Studio ``.npz`` (`save_direction`): ``vector`` plus name, space, method, meta and the model's
  fingerprint; a vector of another model is refused.
* InterFaceGAN ``.npy``: a boundary ``[1, dim]`` or ``[dim]``.
* e4e / PTI / HyperStyle ``.pt``/``.pth`` (``torch.save`` of a tensor): ``[dim]``, ``[1, dim]`` or
  per-layer ``[num_ws, dim]``, or a dict holding exactly one such tensor (e.g. ``{"direction": t}``).
* STIT-style per-layer ``.npy`` ``[num_ws, dim]`` (StyleGAN2 only): row i moves w+ row i.
* GANSpace ``.npz`` (``lat_comp`` ``[k, 1, dim]`` or ``[k, dim]``, ``lat_mean``, ``lat_stdev`` ``[k]``):
  a named edit (component, first layer, last layer, strength) via `ganspace_edit`, or
  ``load_direction(path, engine, component=N)``; it moves w+ rows first..last (both included) by
  ``t · strength · lat_stdev[N] · lat_comp[N]`` for an edit strength t, as GANSpace does.

Vectors are normalised (unit length; per-layer: root-mean-square row norm 1), so a strength is a
distance in w (in standard deviations for GANSpace); ``meta["file_norm"]`` keeps the file's own norm.
"""
from __future__ import annotations

import json
import pickle
import re
import warnings
import zipfile
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..base import LatentStudioError
from ..sources import safe_join
from .directions import DIRECTION_NAME, Direction, as_direction_array, edit_space, latent_dim, normalise, own_rows
from .view import GanModel

TORCH_SUFFIXES = (".pt", ".pth")
DIRECTION_SUFFIXES = (".npz", ".npy") + TORCH_SUFFIXES  # also the order names in a model folder are looked up in
_NEVER_RUNS_CODE = ("Latent Studio never runs code from files; save the direction as a bare tensor "
                    "(torch.save(tensor, path)) or a float array (numpy.save).")


# ----------------------------------------------------------------------------------------------
# Files

def save_direction(direction: Direction, folder: str | Path) -> Path:
    """Write ``folder/NAME.npz`` (vector, name, space, method, fingerprint, meta as JSON)."""
    if not DIRECTION_NAME.match(direction.name or ""):
        raise LatentStudioError(f"Direction name {direction.name!r} must be letters, digits, '_', '-' or '.'.")
    path = Path(folder) / f"{direction.name}.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, vector=normalise(direction.vector, direction.name), name=np.array(direction.name),
             space=np.array(direction.space), method=np.array(direction.method),
             fingerprint=np.array(direction.fingerprint or ""), meta=np.array(json.dumps(direction.meta, default=float)))
    return path


def _file_meta(name: str, raw: np.ndarray, key: Optional[str] = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"source": name, "file_shape": list(raw.shape)}
    if key is not None:
        meta["file_key"] = key
    if raw.dtype.kind in "biuf" and raw.size:
        meta["file_norm"] = float(np.linalg.norm(np.asarray(raw, dtype=np.float64)))
    return meta


def _from_array(path: Path, raw: Any, engine: GanModel, key: Optional[str] = None) -> Direction:
    """A bare direction array (``[dim]``, ``[1, dim]``, per-layer ``[rows, dim]``) read from ``path``."""
    raw = np.asarray(raw)
    label = f"{path.name}'s {key!r}" if key is not None else path.name
    arr = as_direction_array(raw, label)
    return Direction(path.stem, normalise(arr, label), edit_space(engine.G), "file", "", _file_meta(path.name, raw, key))


def _read_torch(path: Path) -> tuple[np.ndarray, Optional[str]]:
    """A tensor (or the one tensor of a dict) from a ``.pt``, read with ``weights_only=True`` and nothing else."""
    refused = f"{path.name} is not a tensor-only direction file"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. pickle-protocol notes; the outcome is what matters here
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        why = (f"it asks for '{found.group(1)}', which is not a tensor or a plain container" if found else
               "it holds Python objects other than tensors and plain containers, or is not a PyTorch file")
        raise LatentStudioError(f"{refused}: {why}. {_NEVER_RUNS_CODE}") from None
    except Exception:  # noqa: BLE001 - whatever a broken file makes torch raise, it is the file's fault
        raise LatentStudioError(f"{refused}: it is not a PyTorch file, or it is truncated or corrupt. "
                                f"{_NEVER_RUNS_CODE}") from None
    key = None
    if isinstance(obj, dict):
        tensors = [(k, v) for k, v in obj.items() if isinstance(v, torch.Tensor)]
        if len(tensors) != 1:
            keys = ", ".join(repr(k) for k in list(obj)[:10]) + (", ..." if len(obj) > 10 else "")
            raise LatentStudioError(f"{path.name} holds a dict with {len(tensors)} tensors (keys: {keys or 'none'}); a "
                                    f"direction file holds one tensor, or a dict with exactly one tensor.")
        key, obj = str(tensors[0][0]), tensors[0][1]
    if not isinstance(obj, torch.Tensor):
        raise LatentStudioError(f"{path.name} holds a {type(obj).__name__}, not a tensor; a direction file holds one "
                                f"tensor [dim], [1, dim] or [num_ws, dim].")
    if obj.is_complex() or not (obj.is_floating_point() or obj.dtype in (torch.int8, torch.int16, torch.int32,
                                                                        torch.int64, torch.uint8)):
        raise LatentStudioError(f"{path.name} holds a {obj.dtype} tensor; a direction holds real numbers.")
    try:
        return obj.detach().to(device="cpu", dtype=torch.float64).contiguous().numpy(), key
    except (RuntimeError, TypeError) as exc:  # sparse, quantised, meta tensors
        raise LatentStudioError(f"{path.name} holds a tensor that is not a plain dense array ({exc}).") from None


def _pickled(path: Path) -> LatentStudioError:
    return LatentStudioError(f"{path.name} is not a readable direction file: it holds pickled Python objects rather "
                             f"than plain numbers. {_NEVER_RUNS_CODE}")


def _read_file(path: Path, engine: GanModel) -> Direction:
    if path.suffix.lower() in TORCH_SUFFIXES:  # e4e / PTI / HyperStyle
        arr, key = _read_torch(path)
        return _from_array(path, arr, engine, key)
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):  # bare .npy: InterFaceGAN [1, dim] / [dim], STIT-style per-layer [num_ws, dim]
            return _from_array(path, data, engine)
        with data:
            if "vector" not in data.files:
                if "lat_comp" in data.files:
                    raise LatentStudioError(
                        f"{path.name} is a GANSpace component file (lat_comp); pick one component: CLI "
                        f"'edit --direction {path.name} --component N --layers FIRST-LAST', Python "
                        f"ganspace_edit(path, component, first, last, strength) or load_direction(path, engine, component=N).")
                if any(name.endswith("data.pkl") for name in data.files):  # torch.save's zip layout
                    raise LatentStudioError(f"{path.name} is a PyTorch file with a numpy name; rename it to "
                                            f"{path.stem}.pt so it is read as a tensor (and only as one).")
                raise LatentStudioError(f"{path.name} is not a direction file (no 'vector'; save it with Latent Studio, "
                                        f"or use a GANSpace .npz with lat_comp).")
            get = lambda k, d="": str(data[k]) if k in data.files else d  # noqa: E731
            meta = json.loads(get("meta", "{}"))
            vector = data["vector"]
            return Direction(get("name", path.stem), normalise(vector, path.name), get("space", "w"),
                             get("method", "file"), get("fingerprint"), meta if isinstance(meta, dict) else {})
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, json.JSONDecodeError) as exc:
        if "pickle" in str(exc).lower():  # object arrays / pickled data: never loaded, and no hint how to
            raise _pickled(path) from None
        raise LatentStudioError(f"{path.name} is not a readable direction file ({exc}).") from exc


def ganspace_edit(path: str | Path, component: int, first: int = 0, last: Optional[int] = None,
                  strength: float = 1.0) -> Direction:
    """A GANSpace named edit (component, first layer, last layer, strength) from a GANSpace ``.npz``.

    The file holds ``lat_comp`` ``[k, 1, dim]`` or ``[k, dim]`` (principal components of w), ``lat_stdev``
    ``[k]`` and ``lat_mean`` ``[1, dim]``/``[dim]`` (checked, not needed for edits). Layers are w+ rows
    ``first`` to ``last`` *inclusive* (GANSpace's convention; ``last=None`` = the model's last row). Applied
    with edit strength t the edit adds ``t · strength · lat_stdev[component] · lat_comp[component]`` to
    those rows, so with the default ``strength=1`` edit strengths are in standard deviations. The
    returned `Direction` holds the unit component; ``meta`` has ``rows`` ([first, last + 1]) and ``scale``.
    """
    path = Path(str(path)).expanduser()
    if not path.is_file():
        raise LatentStudioError(f"No such GANSpace file: {str(path)!r}.")
    not_ganspace = LatentStudioError(f"{path.name} is not a GANSpace file (no 'lat_comp'); a component can only be "
                                     f"picked from a GANSpace .npz (lat_comp, lat_mean, lat_stdev).")
    if path.suffix.lower() in TORCH_SUFFIXES:
        raise not_ganspace
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            raise not_ganspace
        with data:
            if "lat_comp" not in data.files:
                raise not_ganspace
            if "lat_stdev" not in data.files:
                raise LatentStudioError(f"{path.name} has lat_comp but no lat_stdev, so a strength in standard "
                                        f"deviations has no meaning; it is not a complete GANSpace file.")
            comp_raw, stdev_raw = np.asarray(data["lat_comp"]), np.asarray(data["lat_stdev"])
            mean_raw = np.asarray(data["lat_mean"]) if "lat_mean" in data.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        if "pickle" in str(exc).lower():
            raise _pickled(path) from None
        raise LatentStudioError(f"{path.name} is not a readable GANSpace file ({exc}).") from exc
    shape = list(comp_raw.shape)
    if comp_raw.dtype.kind not in "biuf" or not (comp_raw.ndim == 2 or (comp_raw.ndim == 3 and comp_raw.shape[1] == 1)) \
            or comp_raw.shape[0] == 0 or comp_raw.shape[-1] == 0:
        raise LatentStudioError(f"{path.name}'s lat_comp has shape {shape}; GANSpace components are [k, 1, dim] or [k, dim].")
    comps = comp_raw.reshape(comp_raw.shape[0], comp_raw.shape[-1]).astype(np.float64)
    k, dim = comps.shape
    stdev = stdev_raw.astype(np.float64).reshape(-1) if stdev_raw.dtype.kind in "biuf" else np.array([])
    if stdev.size != k:
        raise LatentStudioError(f"{path.name}'s lat_stdev has shape {list(stdev_raw.shape)}; it needs one standard "
                                f"deviation per component ([{k}], as lat_comp has shape {shape}).")
    if mean_raw is not None and (mean_raw.dtype.kind not in "biuf" or mean_raw.shape[-1:] != (dim,)
                                 or mean_raw.size != dim):
        raise LatentStudioError(f"{path.name}'s lat_mean has shape {list(mean_raw.shape)}; with lat_comp {shape} it "
                                f"should be [1, {dim}] or [{dim}].")
    if isinstance(component, bool) or not isinstance(component, (int, np.integer)) or not 0 <= int(component) < k:
        raise LatentStudioError(f"GANSpace component {component!r} is out of range: {path.name} has {k} components "
                                f"(0 to {k - 1}).")
    for label, value in (("first", first), ("last", last)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise LatentStudioError(f"GANSpace {label} layer must be a row number >= 0, got {value!r}.")
    if first is None:
        first = 0
    if last is not None and last < first:
        raise LatentStudioError(f"GANSpace layers {first}-{last}: the last layer comes before the first "
                                f"(both are included, so {first}-{first} edits one row).")
    if not np.isfinite(float(strength)):
        raise LatentStudioError(f"Strength must be a finite number, got {strength!r}.")
    c = int(component)
    sd = float(stdev[c])
    if not np.isfinite(sd) or sd <= 0:
        raise LatentStudioError(f"{path.name}'s lat_stdev[{c}] is {sd}; a standard deviation must be a positive number.")
    vec = comps[c]
    if not np.isfinite(vec).all() or np.linalg.norm(vec) < 1e-8:
        raise LatentStudioError(f"{path.name}'s component {c} is zero or holds NaN/infinite values.")
    norm = float(np.linalg.norm(vec))
    rows = None if (int(first) == 0 and last is None) else [int(first), None if last is None else int(last) + 1]
    meta = {"source": path.name, "file_key": "lat_comp", "file_shape": shape, "file_norm": norm, "components": k,
            "component": c, "first_layer": int(first), "last_layer": None if last is None else int(last),
            "rows": rows, "stdev": sd, "strength": float(strength), "scale": float(strength) * sd * norm}
    return Direction(f"{path.stem}_c{c}", (vec / norm).astype(np.float32), "w", "ganspace_file", "", meta)


def _shape_error(direction: Direction, shape: list, rows: int, space: str, dim: int,
                 num_ws: Optional[int]) -> LatentStudioError:
    """Name the file's shape and the shapes this model takes."""
    meta = direction.meta if isinstance(direction.meta, dict) else {}
    source = meta.get("source")
    what = (f"{source}'s {meta['file_key']}" if source and meta.get("file_key") else source) or \
        f"Direction {direction.name!r}"
    if meta.get("file_key") == "lat_comp":
        expected = f"[k, 1, {dim}] or [k, {dim}]"
    elif num_ws is not None:
        expected = f"[{dim}], [1, {dim}] or [num_ws={num_ws}, {dim}]"
    else:
        expected = f"[{dim}] or [1, {dim}]"
    width = shape[-1] if shape else 0
    if width != dim:
        return LatentStudioError(f"{what} holds shape {shape}, of dimension {width}; this model's {space} has {dim} "
                                 f"dimensions (expected {expected}).")
    if num_ws is None:
        return LatentStudioError(f"{what} holds shape {shape}, a per-layer direction; this model edits in {space}, "
                                 f"which has no layers (expected {expected}).")
    return LatentStudioError(f"{what} holds shape {shape}, a per-layer direction for {rows} w+ rows; this model's "
                             f"w+ has {num_ws} rows of {dim} (expected {expected}).")


def check_direction(direction: Direction, engine: GanModel) -> Direction:
    """Refuse directions of another model (fingerprint), another space, the wrong width or number of rows."""
    if direction.fingerprint and direction.fingerprint != engine.fingerprint:
        raise LatentStudioError(f"Direction {direction.name!r} was made for model fingerprint {direction.fingerprint}; "
                                f"the loaded model ({engine.arch}) has fingerprint {engine.fingerprint}.")
    space, dim = edit_space(engine.G), latent_dim(engine.G)
    if direction.space != space:
        raise LatentStudioError(f"Direction {direction.name!r} is in {direction.space} space; {engine.arch} edits in {space}.")
    num_ws = int(engine.G.num_ws) if space == "w" else None
    meta = direction.meta if isinstance(direction.meta, dict) else {}
    shape = meta.get("file_shape")
    shape = list(shape) if isinstance(shape, (list, tuple)) and shape else list(np.shape(direction.vector))
    vec = normalise(direction.vector, repr(direction.name))
    if vec.shape[-1] != dim or (vec.ndim == 2 and vec.shape[0] != num_ws):
        shape = shape if shape[-1:] == [vec.shape[-1]] else list(vec.shape)  # meta from another file: trust the vector
        raise _shape_error(direction, shape, vec.shape[0] if vec.ndim == 2 else 1, space, dim, num_ws)
    if meta.get("rows") is not None:
        if num_ws is None:
            raise LatentStudioError(f"Direction {direction.name!r} edits a w+ row range; {engine.arch} has no w+ layers.")
        own_rows(direction, num_ws)  # in range for this model
    direction.vector = vec
    return direction


def named_directions(engine: GanModel) -> list[str]:
    """The NAMEs `load_direction` finds in the model folder's ``directions/`` (sorted)."""
    return sorted(_model_directions(engine)[1])


def _model_directions(engine: GanModel) -> tuple[Optional[Path], dict[str, str]]:
    """The model folder's ``directions/`` and NAME → file name in it (.npz before .npy before .pt before .pth)."""
    folder = engine.bundle.folder / "directions" if engine.bundle.folder is not None else None
    files: dict[str, str] = {}
    if folder is not None and folder.is_dir():
        rank = {suffix: i for i, suffix in enumerate(DIRECTION_SUFFIXES)}
        found = sorted((rank[p.suffix.lower()], p.name) for p in folder.iterdir() if p.suffix.lower() in rank)
        for _, name in found:
            files.setdefault(Path(name).stem, name)
    return folder, files


def load_direction(src: Any, engine: GanModel, component: Optional[int] = None) -> Direction:
    """A `Direction`, a direction file (see the module notes), or a NAME in the model folder's ``directions/``.

    ``component`` picks a GANSpace component (all rows; see `ganspace_edit` for a layer range and strength).
    The result is checked against ``engine`` (fingerprint, space, width, rows).
    """
    if isinstance(src, Direction):
        if component is not None:
            raise LatentStudioError("A component can only be picked from a GANSpace .npz file, not from a direction.")
        return check_direction(src, engine)
    read = (lambda p: _read_file(p, engine)) if component is None else (lambda p: ganspace_edit(p, component))
    path = Path(str(src)).expanduser()
    if path.suffix.lower() in DIRECTION_SUFFIXES or path.is_file():
        if not path.is_file():
            raise LatentStudioError(f"No such direction file: {str(path)!r}.")
        return check_direction(read(path), engine)
    folder, files = _model_directions(engine)
    names = sorted(files)
    if DIRECTION_NAME.match(str(src)) and str(src) in files:
        return check_direction(read(safe_join(folder, files[str(src)])), engine)   # no symlinks out
    where = f"{folder}" if folder is not None else "this model (it has no folder)"
    raise LatentStudioError(f"Unknown direction {str(src)!r}: not a .npz/.npy/.pt/.pth file, and not in {where}. "
                            f"Available names: {', '.join(names) if names else 'none'}.")
