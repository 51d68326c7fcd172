"""The interface both engines share, so the demo and the CLI can treat a GAN and a diffusion model alike.

Also the small policies every engine needs: which device and dtype to run on, how a seed becomes a
`torch.Generator`, how progress is reported and cancelled, and the one exception type users see.

torch is imported by the functions that need it, not here: the CLI's parser, option checks and error type
come from this module, and ``python -m engines --help`` answers without loading torch (`bench.startup`).
"""
from __future__ import annotations

import abc
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
import sys
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import torch

#: Progress callback: ``(step, total, preview_image_or_None)``. Raising `Cancelled` inside it stops the job.
ProgressCallback = Callable[[int, int, Optional[Image.Image]], None]


class LatentStudioError(Exception):
    """An error the user caused and can fix (bad file, unknown model, option out of range).

    The message is meant to be shown as is: the UI wraps it in ``gr.Error``, the CLI prints it and
    exits non-zero. Programming errors stay ordinary exceptions.
    """


class Cancelled(LatentStudioError):
    """Raised (usually from a progress callback) to stop a long job early.

    ``partial``: what the job had when it stopped, filled in by the loop it passes through (e.g. a projection
    adds ``latent`` (tensor), ``space`` and ``step``), so a UI can keep the partial result.
    """

    def __init__(self, *args: Any, partial: Optional[dict] = None) -> None:
        super().__init__(*args)
        self.partial: dict[str, Any] = dict(partial or {})


def report(progress: Optional[ProgressCallback], step: int, total: int, preview: Optional[Image.Image] = None) -> None:
    """Call ``progress`` if there is one; engines call this instead of checking for None each time."""
    if progress is not None:
        progress(step, total, preview)


# ----------------------------------------------------------------------------------------------
# Device, dtype, seeds

def pick_device(device: str | torch.device | None = None) -> torch.device:
    """CUDA when present, else CPU; ``device`` ("cpu", "cuda", "cuda:1", "auto") overrides."""
    import torch
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise LatentStudioError(f"Unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'.") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise LatentStudioError(f"Device {device!r} was asked for but CUDA is not available here; use --device cpu.")
    return dev


def pick_dtype(device: torch.device, dtype: str | torch.dtype | None = None, *, half_on_cuda: bool = False) -> torch.dtype:
    """float32 unless asked otherwise; ``half_on_cuda`` gives float16 on CUDA (big diffusion models)."""
    import torch
    if dtype is None or dtype == "auto":
        return torch.float16 if (half_on_cuda and device.type == "cuda") else torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    names = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
             "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
    if dtype not in names:
        raise LatentStudioError(f"Unknown dtype {dtype!r}: use one of {sorted(names)}.")
    return names[dtype]


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A private RNG for one job, so concurrent jobs never share (or disturb) global random state."""
    if seed is None or not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise LatentStudioError(f"Seed must be an integer, got {seed!r}.")
    if not 0 <= int(seed) < 2**63:
        raise LatentStudioError(f"Seed must be in [0, 2**63), got {seed}.")
    import torch
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(int(seed))
    return gen


def check_range(name: str, value: float, low: float, high: float, *, integer: bool = False) -> None:
    """Raise a user-facing error naming the option and its limits when ``value`` is outside [low, high].

    Also refuses what is not a number at all (None, text, booleans, tensors with more than one value)
    and NaN/infinity, always with the limits in the message.
    """
    kind = "a whole number" if integer else "a number"
    if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
        raise LatentStudioError(f"{name} must be {kind} between {low} and {high}, got {value!r}.")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        raise LatentStudioError(f"{name} must be {kind} between {low} and {high}, got {value!r}.") from None
    if not np.isfinite(number):
        raise LatentStudioError(f"{name} must be between {low} and {high}, got {value!r}.")
    if integer and number != int(number):
        raise LatentStudioError(f"{name} must be a whole number, got {value!r}.")
    if not (low <= number <= high) or not (low <= value <= high):
        raise LatentStudioError(f"{name} must be between {low} and {high}, got {value!r}.")


# ----------------------------------------------------------------------------------------------
# Results and descriptions

@dataclass
class ModelDescription:
    """What a loaded model is; shown in the UI's Models tab and by ``python -m engines … --help``."""
    name: str
    source: str
    resolution: int
    device: str
    dtype: str
    conditioning: str = "none"
    parameters: int = 0
    spaces: tuple[str, ...] = ()
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass
class Result:
    """What a long job returns: images, frames for previews/GIFs, latents, metrics, timings, options.

    ``options`` holds every choice that went into the job (seed included), so a result can be reproduced.
    """
    images: list[Image.Image]
    frames: list[Image.Image] = field(default_factory=list)
    latents: dict[str, np.ndarray] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def save(self, out_dir: str | Path, prefix: str = "result") -> list[Path]:
        """Write images as PNG, latents as ``.npz`` and metrics/timings/options as JSON into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for i, img in enumerate(self.images):
            path = out / f"{prefix}_{i:03d}.png"
            img.save(path)
            written.append(path)
        if self.latents:
            path = out / f"{prefix}_latents.npz"
            np.savez(path, **self.latents)
            written.append(path)
        path = out / f"{prefix}_metrics.json"
        path.write_text(json.dumps({"metrics": self.metrics, "timings": self.timings,
                                    "options": self.options}, indent=2, default=_json_default))
        written.append(path)
        return written


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    torch = sys.modules.get("torch")  # a tensor can only exist once torch is loaded
    if torch is not None and isinstance(obj, torch.Tensor):
        return np.asarray(obj.detach().cpu()).tolist()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


class Timer:
    """Collects named wall-clock timings (seconds) for `Result.timings`."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def __call__(self, name: str) -> "_Span":
        return _Span(self, name)


class _Span:
    def __init__(self, timer: Timer, name: str) -> None:
        self.timer, self.name = timer, name

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *exc: Any) -> None:
        self.timer.timings[self.name] = self.timer.timings.get(self.name, 0.0) + time.perf_counter() - self.start


# ----------------------------------------------------------------------------------------------
# The interface

class Engine(abc.ABC):
    """The surface the demo and the CLI use; GAN and diffusion engines both implement it."""

    @abc.abstractmethod
    def describe(self) -> ModelDescription:
        """Name, source, resolution, device, dtype and conditioning of the loaded model."""

    @abc.abstractmethod
    def sample(self, n: int, seed: int, **options: Any) -> list[Image.Image]:
        """``n`` images drawn from the model; the same seed gives the same images on the same device."""

    @abc.abstractmethod
    def from_guide(self, guide: Any, mask: Any = None, *, seed: int = 0, steps: Optional[int] = None,
                   progress: Optional[ProgressCallback] = None, **options: Any) -> Result:
        """An image that agrees with ``guide`` (photo or sketch) where ``mask`` is set, made by the model."""


def as_list(images: Any) -> list:
    """Accept one item or a sequence of them."""
    if isinstance(images, (list, tuple)):
        return list(images)
    return [images]
