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


def _estimate(**reads: tuple[int, float]) -> Callable[[Callable[..., float]], Any]:
    """``seconds(**values)`` made a duration function: each value read from the job's own arguments (``reads``:
    name → (position, default); `_arg`: by keyword, else by position, else the default), the result `_bounded`."""
    def wrap(seconds: Callable[..., float]) -> Any:
        def duration(*args: Any, **kwargs: Any) -> int:
            return _bounded(seconds(**{name: _arg(args, kwargs, index, name, default)
                                       for name, (index, default) in reads.items()}))
        duration.__name__ = duration.__qualname__ = seconds.__name__
        return staticmethod(duration)
    return wrap


class durations:
    """Seconds to reserve per job, from the arguments the tab's function receives (positional, as Gradio
    passes them): a fixed part plus a cost per optimisation / denoising step."""

    @_estimate(count=(1, 9))
    def sample(count: float) -> float:
        return 10 + 0.05 * count

    @_estimate(steps_v=(4, 200), restarts_v=(10, 1), pti_v=(14, 0))
    def invert(steps_v: float, restarts_v: float, pti_v: float) -> float:
        return 15 + 0.03 * (steps_v * restarts_v) + 0.05 * pti_v

    @_estimate(steps_v=(3, 150), restarts_v=(5, 4))
    def scribble(steps_v: float, restarts_v: float) -> float:
        return 15 + 0.03 * steps_v * restarts_v

    @_estimate(inv_steps=(8, 150), frames_v=(6, 16))
    def interpolate(inv_steps: float, frames_v: float) -> float:
        return 15 + 2 * 0.03 * inv_steps + 0.02 * frames_v

    @_estimate(pti_v=(13, 0))
    def edit(pti_v: float) -> float:
        return 20 + 0.03 * 150 + 0.05 * pti_v

    @_estimate(steps_v=(3, 50), n_v=(9, 4))
    def sdedit(steps_v: float, n_v: float) -> float:
        return 15 + 0.05 * steps_v * n_v

    @_estimate(steps_v=(4, 100))
    def drag(steps_v: float) -> float:
        return 15 + 0.1 * steps_v

    @_estimate(steps_value=(5, 50), depth_value=(3, 0.8), refine_value=(6, 2))
    def translate(steps_value: float, depth_value: float, refine_value: float) -> float:
        return 15 + 0.05 * (steps_value * depth_value) * (3 + refine_value)

    @_estimate(gan_steps_v=(2, 200), steps_v=(4, 50))
    def compare(gan_steps_v: float, steps_v: float) -> float:
        return 20 + 0.03 * 4 * gan_steps_v + 0.05 * steps_v


def gpu(duration: Optional[Callable[..., int]] = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@gpu(durations.invert)``: ``spaces.GPU(duration=durations.invert)(fn)`` when the `spaces` package is
    present (a ZeroGPU Space), else ``fn`` itself. Without ``duration``, ZeroGPU's default (60 s)."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if _spaces is None:
            return fn
        return _spaces.GPU(duration=duration)(fn) if duration is not None else _spaces.GPU(fn)
    return wrap
