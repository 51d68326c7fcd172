"""Model SOURCE → a ready diffusion backend, with one set of error messages for broken folders.

The format is read from ``model_index.json``'s ``_class_name``: our ``ClassConditionalPixelPipeline``
(and diffusers' unconditional ``DDPMPipeline``/``DDIMPipeline``, which have the same UNet + scheduler)
→ the pixel backend; Stable Diffusion pipelines → diffusers' ``StableDiffusionImg2ImgPipeline``.
Nothing in a checkpoint is executed: every component must be a diffusers or transformers class
(checked before loading), there is no ``trust_remote_code`` and no custom pipeline code.
"""
from __future__ import annotations

import contextlib
import json
import warnings
from pathlib import Path
from typing import Any, Iterator, Optional

import torch

from .. import catalog
from ..base import LatentStudioError, pick_dtype
from ..sources import _short, default_path, plain_name, resolve_source
from .backend import Backend

PIXEL_CLASSES = ("ClassConditionalPixelPipeline", "DDPMPipeline", "DDIMPipeline")
SD_CLASSES = ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline", "StableDiffusionInpaintPipeline")
_LIBRARIES = ("diffusers", "transformers")
#: diffusers classes that model_index.json names by their pipeline module instead of "diffusers"
#: (Stable Diffusion v1.x writes its safety checker as ["stable_diffusion", "StableDiffusionSafetyChecker"]).
_DIFFUSERS_PIPELINE_CLASSES = {("stable_diffusion", "StableDiffusionSafetyChecker")}
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_COMPONENTS = ("unet", "scheduler", "vae", "text_encoder", "tokenizer", "safety_checker", "feature_extractor",
               "image_encoder")


def read_model_index(folder: Path) -> dict[str, Any]:
    """``model_index.json`` of a diffusers folder, checked; errors name the folder and what is wrong."""
    if not folder.is_dir():
        raise LatentStudioError(f"{str(folder)!r} is a file, not a diffusers model folder: diffusion models are "
                                "folders with a model_index.json (save_pretrained layout). Single-file .ckpt/"
                                ".safetensors checkpoints must be converted to that layout first.")
    index_path = folder / "model_index.json"
    if not index_path.is_file():
        raise LatentStudioError(f"{str(folder)!r} is not a diffusers model folder: it has no model_index.json.")
    try:
        index = json.loads(index_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LatentStudioError(f"{str(index_path)!r} is not valid JSON ({_short(exc)}).") from exc
    if not isinstance(index, dict) or not isinstance(index.get("_class_name"), str):
        raise LatentStudioError(f"{str(index_path)!r} has no pipeline class (_class_name).")
    name = index["_class_name"]
    if name not in PIXEL_CLASSES + SD_CLASSES:
        raise LatentStudioError(f"{str(folder)!r} holds a {name}, which the diffusion engine does not run: it "
                                f"supports {', '.join(PIXEL_CLASSES + SD_CLASSES)}.")
    for key, value in index.items():
        if not plain_name(key):  # diffusers turns component names into folder paths: no '../x', no '/abs'
            raise LatentStudioError(f"{str(index_path)!r} names a component {key!r}: component names must be plain "
                                    f"folder names inside {str(folder)!r} (no '/', '\\' or '..').")
        if key not in _COMPONENTS or not (isinstance(value, list) and len(value) == 2):
            continue  # plain config values (class_names, requires_safety_checker, …)
        library, class_name = value
        if library is None:
            continue
        if library not in _LIBRARIES and (library, class_name) not in _DIFFUSERS_PIPELINE_CLASSES:
            raise LatentStudioError(f"Component {key!r} of {str(folder)!r} comes from {library!r}; only diffusers "
                                    "and transformers components are loaded (no code from checkpoints).")
        sub = folder / key
        if not sub.is_dir():
            raise LatentStudioError(f"{str(folder)!r} is incomplete: model_index.json lists {key!r} but there is "
                                    f"no {key}/ folder.")
        if key in ("unet", "vae", "text_encoder") and not any(p.suffix in _WEIGHT_SUFFIXES for p in sub.iterdir()):
            raise LatentStudioError(f"{str(folder)!r} is incomplete: {key}/ has no weights (.safetensors or .bin).")
    return index


def _all_safetensors(folder: Path, index: dict[str, Any]) -> bool:
    subs = [folder / k for k in ("unet", "vae", "text_encoder") if isinstance(index.get(k), list) and index[k][0]]
    return all(any(p.suffix == ".safetensors" for p in s.iterdir()) for s in subs if s.is_dir())


def _load(cls: Any, folder: Path, **kwargs: Any) -> Any:
    """``cls.from_pretrained`` on a local folder, with every failure turned into a message naming it."""
    with warnings.catch_warnings(), _quiet_progress_bars():
        # newer diffusers renamed torch_dtype to dtype; older ones only know torch_dtype
        warnings.filterwarnings("ignore", message=".*use `dtype` instead.*")
        try:
            return cls.from_pretrained(str(folder), local_files_only=True, **kwargs)
        except LatentStudioError:
            raise
        except Exception as exc:  # truncated/corrupt weights, wrong shapes, bad configs: all the user's folder
            raise LatentStudioError(f"Could not load the diffusion model in {str(folder)!r}: {_short(exc)} "
                                    "(is a file truncated or from another model?).") from exc


@contextlib.contextmanager
def _quiet_progress_bars() -> Iterator[None]:
    """No "Loading pipeline components" / "Loading weights" bars from a local load (restored afterwards)."""
    from diffusers.utils import logging as d_logging
    from transformers.utils import logging as t_logging
    was = [(lib, lib.is_progress_bar_enabled()) for lib in (d_logging, t_logging)]
    for lib, _ in was:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib, enabled in was:
            if enabled:
                lib.enable_progress_bar()


def load_backend(source: str = "default", *, device: torch.device, dtype: Optional[str | torch.dtype] = None,
                 resolution: Optional[int] = None, attention_slicing: bool = False,
                 cpu_offload: bool = False) -> tuple[Backend, str]:
    """(backend, source description) for any source."""
    from .pixel_backend import PixelBackend
    from .pixel_pipeline import ClassConditionalPixelPipeline

    if source == "default" and not (default_path("diffusion") / "model_index.json").is_file():
        raise LatentStudioError(f"The default diffusion weights are missing from {default_path('diffusion')} (a checkout "
                                "without weights/?): restore them with git, or pass another --diffusion source.")
    resolved = resolve_source(source, kind="diffusion")
    if resolved.path is None:
        raise LatentStudioError(f"Model source {source!r} could not be resolved to a folder.")
    folder = Path(resolved.path)
    index = read_model_index(folder)
    name = index["_class_name"]
    if name in PIXEL_CLASSES:
        pipe = _load(ClassConditionalPixelPipeline, folder, use_safetensors=_all_safetensors(folder, index) or None)
        return PixelBackend(pipe, device, pick_dtype(device, dtype)), str(source)
    from diffusers import StableDiffusionImg2ImgPipeline

    from .stable_diffusion import StableDiffusionBackend
    torch_dtype = pick_dtype(device, dtype, half_on_cuda=True)
    pipe = _load(StableDiffusionImg2ImgPipeline, folder, torch_dtype=torch_dtype,
                 use_safetensors=_all_safetensors(folder, index) or None)
    entry = catalog.lookup(resolved.name)
    turbo = entry.turbo if entry is not None else catalog.looks_turbo(resolved.repo_id, str(source))
    backend = StableDiffusionBackend(pipe, device, torch_dtype, resolution=resolution,
                                     attention_slicing=attention_slicing, cpu_offload=cpu_offload, turbo=turbo,
                                     steps=entry.steps if entry else None, guidance=entry.guidance if entry else None)
    return backend, str(source)


def read_card(source: str) -> str:
    """The model card (``README.md``) of a local or default diffusion folder; "" when there is none."""
    folder = default_path("diffusion") if source == "default" else Path(str(source)).expanduser()
    card = folder / "README.md"
    try:
        return card.read_text(encoding="utf-8") if folder.is_dir() and card.is_file() else ""
    except (OSError, UnicodeDecodeError):
        return ""
