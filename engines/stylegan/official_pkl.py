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
``dnnlib.util.EasyDict`` is a dict subclass holding keyword arguments.

Our `RestrictedUnpickler` resolves only an allowlist of globals: the persistence hook becomes an
inert `PersistentRecord` (``module_src`` is never executed), tensors are rebuilt through
``torch.load(weights_only=True)``, ``EasyDict`` becomes a dict, other ``torch.nn`` classes become
inert records. Any other global (``os.system``, ``builtins.eval``, a project class …) is refused
before anything is called. The records are then flattened into a state dict that maps one to one
onto our networks, whose names follow the official ones.
"""
from __future__ import annotations

import io
import pickle
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

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
}


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
    return {k: (dict(v) if isinstance(v, dict) else v) for k, v in kwargs.items()}


def generator_config(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Map official ``Generator(**init_kwargs)`` onto our StyleGAN2Config fields."""
    syn = kwargs.get("synthesis_kwargs") or {}
    mapping = kwargs.get("mapping_kwargs") or {}
    arch = syn.get("architecture", "skip")
    if arch != "skip":
        raise LatentStudioError(f"This StyleGAN2 generator uses the '{arch}' architecture; only 'skip' (the default) is supported.")
    try:
        return dict(img_resolution=int(kwargs["img_resolution"]), img_channels=int(kwargs.get("img_channels", 3)),
                    z_dim=int(kwargs["z_dim"]), w_dim=int(kwargs["w_dim"]), c_dim=int(kwargs.get("c_dim", 0)),
                    mapping_layers=int(mapping.get("num_layers", 8)),
                    mapping_lr_multiplier=float(mapping.get("lr_multiplier", 0.01)),
                    channel_base=int(syn.get("channel_base", 32768)), channel_max=int(syn.get("channel_max", 512)),
                    conv_clamp=syn.get("conv_clamp"), w_avg_beta=float(mapping.get("w_avg_beta", 0.995)))
    except (KeyError, TypeError, ValueError) as exc:
        raise LatentStudioError(f"The pickle's generator arguments are incomplete ({exc}).") from exc


def discriminator_config(kwargs: dict[str, Any]) -> dict[str, Any] | None:
    block = kwargs.get("block_kwargs") or {}
    epi = kwargs.get("epilogue_kwargs") or {}
    if kwargs.get("architecture", "resnet") != "resnet":
        return None
    return dict(img_resolution=int(kwargs["img_resolution"]), img_channels=int(kwargs.get("img_channels", 3)),
                c_dim=int(kwargs.get("c_dim", 0)), channel_base=int(kwargs.get("channel_base", 32768)),
                channel_max=int(kwargs.get("channel_max", 512)),
                mbstd_group_size=int(epi.get("mbstd_group_size", 4)),
                mbstd_num_channels=int(epi.get("mbstd_num_channels", 1)), conv_clamp=kwargs.get("conv_clamp"))


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
