"""On a Hugging Face ZeroGPU Space, GPU work must run inside ``spaces.GPU``; everywhere else nothing changes.

ZeroGPU reserves a GPU for the ``duration`` a call asks for (shorter requests queue sooner), so each job
asks for what it needs: ``spaces.GPU(duration=callable)`` calls the callable with the job's own arguments.
`durations` holds those estimates (seconds on a ZeroGPU slice for our 64 px models, with headroom).
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

try:  # the `spaces` package exists only on Hugging Face Spaces
    import spaces as _spaces
except ImportError:  # pragma: no cover - depends on the host
    _spaces = None

#: Bounds of any request: model loading and warm-up need a floor; ZeroGPU refuses very long reservations.
MIN_SECONDS, MAX_SECONDS = 20, 300


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: float) -> float:
    value = kwargs.get(name, args[index] if len(args) > index else default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _bounded(seconds: float) -> int:
    return int(min(MAX_SECONDS, max(MIN_SECONDS, math.ceil(seconds))))


class durations:
    """Seconds to reserve per job, from the arguments the tab's function receives (positional, as Gradio
    passes them): a fixed part plus a cost per optimisation / denoising step."""

    @staticmethod
    def sample(*args: Any, **kwargs: Any) -> int:
        return _bounded(10 + 0.05 * _arg(args, kwargs, 1, "count", 9))

    @staticmethod
    def invert(*args: Any, **kwargs: Any) -> int:
        steps = _arg(args, kwargs, 4, "steps_v", 200) * _arg(args, kwargs, 10, "restarts_v", 1)
        return _bounded(15 + 0.03 * steps + 0.05 * _arg(args, kwargs, 14, "pti_v", 0))

    @staticmethod
    def scribble(*args: Any, **kwargs: Any) -> int:
        return _bounded(15 + 0.03 * _arg(args, kwargs, 3, "steps_v", 150) * _arg(args, kwargs, 5, "restarts_v", 4))

    @staticmethod
    def interpolate(*args: Any, **kwargs: Any) -> int:
        return _bounded(15 + 2 * 0.03 * _arg(args, kwargs, 8, "inv_steps", 150) + 0.02 * _arg(args, kwargs, 6, "frames_v", 16))

    @staticmethod
    def edit(*args: Any, **kwargs: Any) -> int:
        return _bounded(20 + 0.03 * 150 + 0.05 * _arg(args, kwargs, 13, "pti_v", 0))

    @staticmethod
    def sdedit(*args: Any, **kwargs: Any) -> int:
        return _bounded(15 + 0.05 * _arg(args, kwargs, 3, "steps_v", 50) * _arg(args, kwargs, 9, "n_v", 4))

    @staticmethod
    def drag(*args: Any, **kwargs: Any) -> int:
        return _bounded(15 + 0.1 * _arg(args, kwargs, 4, "steps_v", 100))

    @staticmethod
    def translate(*args: Any, **kwargs: Any) -> int:
        steps = _arg(args, kwargs, 5, "steps_value", 50) * _arg(args, kwargs, 3, "depth_value", 0.8)
        return _bounded(15 + 0.05 * steps * (3 + _arg(args, kwargs, 6, "refine_value", 2)))

    @staticmethod
    def compare(*args: Any, **kwargs: Any) -> int:
        return _bounded(20 + 0.03 * 4 * _arg(args, kwargs, 2, "gan_steps_v", 200) + 0.05 * _arg(args, kwargs, 4, "steps_v", 50))


def gpu(duration: Optional[Callable[..., int]] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@gpu(durations.invert)``: ``spaces.GPU(duration=durations.invert)(fn)`` when the `spaces` package is
    present (a ZeroGPU Space), else ``fn`` itself. Without ``duration``, ZeroGPU's default (60 s)."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if _spaces is None:
            return fn
        return _spaces.GPU(duration=duration)(fn) if duration is not None else _spaces.GPU(fn)
    return wrap
