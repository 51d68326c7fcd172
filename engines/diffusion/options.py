"""SDEdit options: checked once, in one place, with messages users understand, for every backend.

The noise level can be given two ways — ``strength`` in [0, 1] (diffusers' img2img convention) or
``t0``, "N of the model's T training timesteps" (the SDEdit paper's convention); ``t0`` becomes
``strength = t0 / T``. Both backends then pick their timesteps the way diffusers' img2img pipeline
does (`plan_timesteps`), so a strength means the same thing for Stable Diffusion and for our model.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Optional

import torch

from ..base import LatentStudioError, check_range
from .schedulers import check_scheduler_name

MAX_STEPS = 1000
MAX_SAMPLES = 16
MAX_FRAMES = 100
DEFAULT_STRENGTH = 0.6


@dataclass
class SDEditOptions:
    """Validated options of one SDEdit job (``guidance`` None = the model's default)."""
    steps: int = 50
    strength: float = DEFAULT_STRENGTH
    t0: Optional[int] = None
    scheduler: str = "ddim"
    eta: float = 0.0
    guidance: Optional[float] = None
    prompt: Optional[str] = None
    negative_prompt: Optional[str] = None
    class_name: Optional[str] = None
    n: int = 1
    frames: int = 10

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_options(*, steps: Any = 50, strength: Any = None, t0: Any = None, scheduler: Any = "ddim",
                  eta: Any = 0.0, guidance: Any = None, prompt: Any = None, negative_prompt: Any = None,
                  class_name: Any = None, n: Any = 1, frames: Any = 10,
                  num_train_timesteps: int = 1000) -> SDEditOptions:
    """Validate everything a user can get wrong; returns the options with ``strength`` resolved."""
    check_range("Steps", _number("Steps", steps), 1, MAX_STEPS, integer=True)
    check_range("Number of samples (n)", _number("n", n), 1, MAX_SAMPLES, integer=True)
    check_range("Frames", _number("Frames", frames), 0, MAX_FRAMES, integer=True)
    scheduler = check_scheduler_name(scheduler)
    check_range("eta", _number("eta", eta), 0.0, 1.0)
    if eta and scheduler != "ddim":
        raise LatentStudioError(f"eta only applies to the ddim scheduler (got eta={eta} with {scheduler}); "
                                "use --scheduler ddim or leave eta at 0.")
    if guidance is not None:
        check_range("Guidance scale", _number("Guidance scale", guidance), 0.0, 50.0)
    if t0 is not None:
        if strength is not None:
            raise LatentStudioError("Give the noise level as strength or as t0, not both.")
        check_range(f"t0 (timesteps of {num_train_timesteps})", _number("t0", t0), 0, num_train_timesteps,
                    integer=True)
        # the epsilon keeps int(steps * strength) from rounding 29.0 down to 28 (0.29 * 100 = 28.999…)
        strength = min(1.0, int(t0) / num_train_timesteps + 1e-9) if t0 else 0.0
    elif strength is None:
        strength = DEFAULT_STRENGTH
    check_range("Strength", _number("Strength", strength), 0.0, 1.0)
    for name, text in (("Prompt", prompt), ("Negative prompt", negative_prompt), ("Class name", class_name)):
        if text is not None and not isinstance(text, str):
            raise LatentStudioError(f"{name} must be text, got {type(text).__name__}.")
    if strength > 0 and steps_run(int(steps), float(strength)) == 0:
        raise LatentStudioError(zero_steps_message(int(steps), float(strength)))
    return SDEditOptions(steps=int(steps), strength=float(strength), t0=None if t0 is None else int(t0),
                         scheduler=scheduler, eta=float(eta), guidance=None if guidance is None else float(guidance),
                         prompt=prompt, negative_prompt=negative_prompt, class_name=class_name, n=int(n),
                         frames=int(frames))


def steps_run(steps: int, strength: float) -> int:
    """Denoising steps SDEdit/img2img actually runs: ``int(steps × strength)`` of the ``steps``-step schedule."""
    return min(int(steps * strength), steps)


def min_steps(strength: float) -> int:
    """The fewest schedule steps that run at least one denoising step at ``strength`` (> 0): ceil(1 / strength),
    checked against the same float arithmetic as `steps_run` (0.29 × 4 must really give 1)."""
    n = max(1, math.ceil(1.0 / strength) - 1)
    while steps_run(n, strength) < 1:
        n += 1
    return n


def zero_steps_message(steps: int, strength: float) -> str:
    """One line for ``int(steps × strength) == 0``: what was asked and the fewest steps that would work."""
    need = min_steps(strength)
    fix = (f"use at least {need} steps (ceil(1 / strength)) or a strength of at least {1 / steps:g}"
           if need <= MAX_STEPS else f"raise the strength to at least {1 / steps:g} ({need} steps would be needed, "
           f"more than {MAX_STEPS})")
    return (f"Strength {strength:g} with {steps} steps runs no denoising step (int(steps × strength) = "
            f"int({steps} × {strength:g}) = 0): {fix}; strength 0 returns the guide.")


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) and not hasattr(value, "__float__"):
        raise LatentStudioError(f"{name} must be a number, got {value!r}.")
    return value


def plan_timesteps(scheduler: Any, steps: int, strength: float,
                   device: torch.device | str = "cpu") -> tuple[torch.Tensor, int]:
    """The timesteps SDEdit runs for ``strength``: the last ``int(steps·strength)`` of a ``steps``-step schedule.

    Same rule as diffusers' ``StableDiffusionImg2ImgPipeline.get_timesteps`` (including
    ``set_begin_index``, which sigma-based schedulers need for ``add_noise``), so our model and Stable
    Diffusion agree on what a strength means. Returns ``(timesteps, number of denoising steps)``.
    """
    scheduler.set_timesteps(steps, device=device)
    init = steps_run(steps, strength)
    start = max(steps - init, 0)
    timesteps = scheduler.timesteps[start * scheduler.order:]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start * scheduler.order)
    return timesteps, init
