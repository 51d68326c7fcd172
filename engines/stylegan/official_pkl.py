"""Read official NVIDIA StyleGAN2-ADA / StyleGAN3 network pickles without running their code.

The format (studied from the public stylegan2-ada-pytorch code, ``torch_utils/persistence.py`` and
``legacy.py``): the file is a plain Python pickle of a dict with keys ``G``, ``D``, ``G_ema``,
``augment_pipe`` and ``training_set_kwargs``. Each network was made with the ``@persistent_class``
decorator, whose ``__reduce__`` emits ``torch_utils.persistence._reconstruct_persistent_obj(meta)``
with ``meta = {type: 'class', version, module_src, class_name, state}``: ``module_src`` is the full
Python source of the module that defines the class, which the official loader *executes* to rebuild
the object, and ``state`` is the module's ``__dict__`` (``_parameters``, ``_buffers``, ``_modules``,
``_init_kwargs`` …). Tensors are pickled the ordinary torch way (``torch._utils._rebuild_tensor_v2``
over ``torch.storage._load_from_bytes`` blobs, which are themselves legacy ``torch.save`` payloads).
``dnnlib.util.EasyDict`` is a dict subclass holding keyword arguments. Module state also holds numpy
scalars (``FullyConnectedLayer.weight_gain = lr_multiplier / np.sqrt(in_features)`` is a ``numpy.float64``,
pickled as ``numpy._core.multiarray.scalar(numpy.dtype('f8'), raw_bytes)``, or ``numpy.core…`` when
written by numpy 1.x).

Our `RestrictedUnpickler` resolves only an allowlist of globals: the persistence hook becomes an
inert `PersistentRecord` (``module_src`` is never executed), tensors are rebuilt through
``torch.load(weights_only=True)``, ``EasyDict`` becomes a dict, other ``torch.nn`` classes become
inert records, numpy scalars become plain Python numbers and numeric numpy arrays are rebuilt from
their raw bytes (numpy's dtype constructor only sees a type code from a fixed list; object arrays,
whose items would be pickled objects, are refused). Any other global (``os.system``, ``builtins.eval``, a project class …) is refused
before anything is called. The records are then flattened into a state dict that maps one to one
onto our networks, whose names follow the official ones.
"""
from __future__ import annotations

import io
import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from ..base import LatentStudioError


class PersistentRecord:
    """What a persistent object (or any torch.nn module) becomes: its class name and its state."""

    def __init__(self, class_name: str = "", state: Any = None) -> None:
        self.class_name = class_name
        self.state = state if state is not None else {}

    def __setstate__(self, state: Any) -> None:  # BUILD opcode for NEWOBJ-pickled torch.nn modules
        self.state = state

    def __repr__(self) -> str:
        return f"PersistentRecord({self.class_name!r})"


class _EasyDict(dict):
    """Stand-in for dnnlib.util.EasyDict: plain dict, attributes ignored."""

    def __setstate__(self, state: Any) -> None:
        pass


def _reconstruct_persistent_obj(meta: Any) -> PersistentRecord:
    if not isinstance(meta, dict) or meta.get("type") != "class":
        raise LatentStudioError("Unsupported persistent object in the pickle (expected type 'class').")
    return PersistentRecord(str(meta.get("class_name", "")), meta.get("state") or {})


def _load_storage_bytes(data: bytes) -> Any:
    if not isinstance(data, (bytes, bytearray)):
        raise LatentStudioError("Malformed tensor storage in the pickle.")
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except pickle.UnpicklingError as exc:  # weights_only refused a global inside the storage blob
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"asks for '{found.group(1)}', which is not" if found else "holds something that is not"
        raise LatentStudioError(f"Refusing to load this pickle: a tensor storage in it {what} a tensor or a plain "
                                "container. Latent Studio never runs code from a checkpoint.") from exc


_NUMPY_KINDS = "biufc"  # bool, signed / unsigned integers, floats, complex: plain numbers only


class _NumpyDType:
    """What ``numpy.dtype(code, align, copy)`` becomes: a plain numeric dtype (the BUILD state sets byte order)."""

    def __init__(self, code: Any, align: Any = False, copy: Any = True) -> None:
        dtype = None
        if isinstance(code, str) and re.fullmatch(r"[<>|=]?[a-zA-Z?]\d{0,2}", code):
            try:
                dtype = np.dtype(code)
            except TypeError:
                dtype = None
        if dtype is None or dtype.kind not in _NUMPY_KINDS:
            raise LatentStudioError(f"Refusing to load this pickle: it holds a numpy value of type {code!r}, which "
                                    "is not a plain number. Latent Studio never runs code from a checkpoint.")
        self.dtype = dtype

    def __setstate__(self, state: Any) -> None:
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if order in ("<", ">") and self.dtype.itemsize > 1:
            self.dtype = self.dtype.newbyteorder(order)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """``numpy.float64(0.5)`` and friends → the plain Python number."""
    if not isinstance(dtype, _NumpyDType) or not isinstance(data, (bytes, bytearray)) \
            or len(data) != dtype.dtype.itemsize:
        raise LatentStudioError("Refusing to load this pickle: a numpy scalar in it is not a plain number.")
    return np.frombuffer(bytes(data), dtype=dtype.dtype)[0].item()


class _NumpyArray:
    """What ``numpy.ndarray`` stands for: ``_reconstruct`` + BUILD rebuild a numeric array from raw bytes."""

    def __init__(self) -> None:
        self.array: Optional[np.ndarray] = None

    def __setstate__(self, state: Any) -> None:
        ok = isinstance(state, tuple) and len(state) == 5
        shape, dtype, fortran, raw = state[1:] if ok else (None, None, None, None)
        if not (ok and isinstance(dtype, _NumpyDType) and isinstance(raw, (bytes, bytearray))
                and isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)
                and len(raw) == int(np.prod(shape, dtype=np.int64)) * dtype.dtype.itemsize):
            raise LatentStudioError("Refusing to load this pickle: a numpy array in it is not a plain numeric array.")
        array = np.frombuffer(bytes(raw), dtype=dtype.dtype)
        self.array = (array.reshape(shape[::-1]).T if fortran else array.reshape(shape)).copy()


def _numpy_reconstruct(cls: Any, shape: Any = None, code: Any = None) -> _NumpyArray:
    if cls is not _NumpyArray:
        raise LatentStudioError("Refusing to load this pickle: it rebuilds a numpy object that is not an array.")
    return _NumpyArray()


def _make_record_class(name: str) -> type:
    return type(name, (PersistentRecord,), {})


_SAFE_GLOBALS: dict[tuple[str, str], Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent_obj,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("collections", "OrderedDict"): OrderedDict,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("torch", "Size"): torch.Size,
    ("numpy", "dtype"): _NumpyDType,
    ("numpy", "ndarray"): _NumpyArray,
}
for _numpy_core in ("numpy.core.multiarray", "numpy._core.multiarray"):  # numpy 1.x and 2.x spellings
    _SAFE_GLOBALS[(_numpy_core, "scalar")] = _numpy_scalar
    _SAFE_GLOBALS[(_numpy_core, "_reconstruct")] = _numpy_reconstruct


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only tensors, plain containers and inert records (see module doc)."""

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        if key in _SAFE_GLOBALS:
            return _SAFE_GLOBALS[key]
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module.startswith("torch.nn.modules.") and name[:1].isupper():
            return _make_record_class(name)
        raise LatentStudioError(
            f"Refusing to load this pickle: it asks for '{module}.{name}', which is not a tensor or a plain "
            "container. Latent Studio never runs code from a checkpoint; convert the file to safetensors "
            "with trusted code if you need it.")

    def persistent_load(self, pid: Any) -> Any:
        raise LatentStudioError("Refusing to load this pickle: it uses persistent ids (not a network pickle).")


def read_pickle(path: str | Path) -> dict[str, Any]:
    """Unpickle ``path`` safely; the result holds `PersistentRecord`s, tensors and plain values."""
    try:
        with open(path, "rb") as f:
            data = RestrictedUnpickler(f).load()
    except LatentStudioError:
        raise
    except Exception as exc:  # truncated or corrupt files raise many kinds of errors
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
        raise LatentStudioError(f"Could not read {Path(path).name} as a network pickle ({detail}); is it "
                                "truncated, or not a StyleGAN2-ADA .pkl?") from exc
    if not isinstance(data, dict):
        raise LatentStudioError(f"{Path(path).name} is not a StyleGAN network pickle (top level is not a dict).")
    return data


def flatten_record(record: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """State dict (dotted names → tensors) of a record tree, like ``module.state_dict()``."""
    if not isinstance(record, PersistentRecord) or not isinstance(record.state, dict):
        raise LatentStudioError("Malformed network in the pickle (no module state).")
    out: dict[str, torch.Tensor] = {}
    for group in ("_parameters", "_buffers"):
        for name, value in (record.state.get(group) or {}).items():
            if isinstance(value, torch.Tensor):
                out[prefix + name] = value.detach()
    for name, child in (record.state.get("_modules") or {}).items():
        if child is not None:
            out.update(flatten_record(child, prefix + name + "."))
    return out


def init_kwargs(record: PersistentRecord) -> dict[str, Any]:
    kwargs = record.state.get("_init_kwargs") or {}
    if not isinstance(kwargs, dict):
        raise LatentStudioError("Malformed network in the pickle (no init kwargs).")
    return {k: (dict(v) if isinstance(v, dict) else v.array if isinstance(v, _NumpyArray) else v)
            for k, v in kwargs.items()}


def _clamp(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def generator_config(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map official ``Generator(**init_kwargs)`` onto our StyleGAN2Config fields."""
    syn = kwargs.get("synthesis_kwargs") or {}
    mapping = kwargs.get("mapping_kwargs") or {}
    arch = syn.get("architecture", "skip")
    if arch != "skip":
        raise LatentStudioError(f"This StyleGAN2 generator uses the '{arch}' architecture; only 'skip' (the default) is supported.")
    for key in ("embed_features", "layer_features"):
        if mapping.get(key) not in (None, kwargs.get("w_dim")):
            raise LatentStudioError(f"This generator's mapping network has {key}={mapping.get(key)}; only the "
                                    "default (equal to w_dim) is supported.")
    try:
        return dict(img_resolution=int(kwargs["img_resolution"]), img_channels=int(kwargs.get("img_channels", 3)),
                    z_dim=int(kwargs["z_dim"]), w_dim=int(kwargs["w_dim"]), c_dim=int(kwargs.get("c_dim") or 0),
                    mapping_layers=int(mapping.get("num_layers", 8)),
                    mapping_lr_multiplier=float(mapping.get("lr_multiplier", 0.01)),
                    channel_base=int(syn.get("channel_base", 32768)), channel_max=int(syn.get("channel_max", 512)),
                    conv_clamp=_clamp(syn.get("conv_clamp")), w_avg_beta=float(mapping.get("w_avg_beta", 0.995)),
                    num_fp16_res=int(syn.get("num_fp16_res") or 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise LatentStudioError(f"The pickle's generator arguments are incomplete ({exc}).") from exc


def discriminator_config(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Map official ``Discriminator(**init_kwargs)``; None for layouts we don't build (the generator still loads).

    ``mbstd_group_size`` None (what ``legacy.py`` writes for converted TF pickles) means one group per batch.
    """
    epi = kwargs.get("epilogue_kwargs") or {}
    if kwargs.get("architecture", "resnet") != "resnet":
        return None
    group = epi.get("mbstd_group_size", 4)
    try:
        if kwargs.get("cmap_dim") not in (None, min(int(kwargs.get("channel_base", 32768)) // 4,
                                                     int(kwargs.get("channel_max", 512)))):
            return None
        return dict(img_resolution=int(kwargs["img_resolution"]), img_channels=int(kwargs.get("img_channels", 3)),
                    c_dim=int(kwargs.get("c_dim") or 0), channel_base=int(kwargs.get("channel_base", 32768)),
                    channel_max=int(kwargs.get("channel_max", 512)),
                    mbstd_group_size=None if group is None else int(group),
                    mbstd_num_channels=int(epi.get("mbstd_num_channels", 1)), conv_clamp=_clamp(kwargs.get("conv_clamp")))
    except (KeyError, TypeError, ValueError):
        return None  # the discriminator is optional: never let it stop the generator from loading


def read_official_pkl(path: str | Path) -> dict[str, Any]:
    """Returns ``{"G": (config, state_dict), "D": (config, state_dict) | None}`` from an official pickle."""
    data = read_pickle(path)
    try:
        return _networks(data, path)
    except LatentStudioError:
        raise
    except (AttributeError, TypeError, KeyError, ValueError, IndexError, RecursionError) as exc:
        # the pickle decoded (nothing ran) but its records are not shaped like StyleGAN networks
        raise LatentStudioError(f"{Path(path).name} is a pickle but not a StyleGAN2-ADA network pickle "
                                f"(malformed network records: {type(exc).__name__}: {exc}).") from exc


def _networks(data: dict[str, Any], path: str | Path) -> dict[str, Any]:
    g = data.get("G_ema") or data.get("G")
    if not isinstance(g, PersistentRecord):
        raise LatentStudioError(f"{Path(path).name} has no 'G_ema' or 'G' network (keys: {sorted(map(str, data))}).")
    g_state = flatten_record(g)
    if "synthesis.input.freqs" in g_state:
        raise LatentStudioError("This is a StyleGAN3 generator; Latent Studio's networks are StyleGAN2 (convert or use a StyleGAN2-ADA pickle).")
    out: dict[str, Any] = {"G": (generator_config(init_kwargs(g)), g_state), "D": None}
    d = data.get("D")
    if isinstance(d, PersistentRecord):
        d_cfg = discriminator_config(init_kwargs(d))
        if d_cfg is not None:
            out["D"] = (d_cfg, flatten_record(d))
    return out
