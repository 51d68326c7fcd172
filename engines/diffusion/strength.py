"""How an SDEdit strength becomes timesteps: diffusers' img2img rule, shared by every caller.

A strength s of an ``n``-step schedule runs its last ``int(n · s)`` steps (`steps_run`), starting near
timestep ``s · T``; `plan_timesteps` picks them from a scheduler exactly as diffusers'
``StableDiffusionImg2ImgPipeline.get_timesteps`` does, so a strength means the same thing for Stable
Diffusion and for our pixel model. Core code: plain Python (torch only in type hints, so option checks and the CLI's
--help load no torch), no engine imports.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


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


def zero_steps_message(steps: int, strength: float, max_steps: Optional[int] = None) -> str:
    """One line for ``int(steps × strength) == 0``: what was asked and the fewest steps that would work
    (or, past ``max_steps``, the strength that would)."""
    need = min_steps(strength)
    fix = (f"use at least {need} steps (ceil(1 / strength)) or a strength of at least {1 / steps:g}"
           if max_steps is None or need <= max_steps else
           f"raise the strength to at least {1 / steps:g} ({need} steps would be needed, more than {max_steps})")
    return (f"Strength {strength:g} with {steps} steps runs no denoising step (int(steps × strength) = "
            f"int({steps} × {strength:g}) = 0): {fix}; strength 0 returns the guide.")


def plan_timesteps(scheduler: Any, steps: int, strength: float,
                   device: "torch.device | str" = "cpu") -> "tuple[torch.Tensor, int]":
    """The timesteps SDEdit runs for ``strength``: the last ``int(steps·strength)`` of a ``steps``-step schedule.

    Same rule as diffusers' ``StableDiffusionImg2ImgPipeline.get_timesteps`` (including
    ``set_begin_index``, which sigma-based schedulers need for ``add_noise``). Returns
    ``(timesteps, number of denoising steps)``.
    """
    scheduler.set_timesteps(steps, device=device)
    init = steps_run(steps, strength)
    start = max(steps - init, 0)
    timesteps = scheduler.timesteps[start * scheduler.order:]
    if hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(start * scheduler.order)
    return timesteps, init
