"""Scheduler names users type → diffusers scheduler classes, built from a model's own scheduler config.

Swapping samplers in diffusers is ``OtherScheduler.from_config(pipe.scheduler.config)``: the noise
schedule (betas, prediction type, spacing) stays the model's, only the update rule changes. Keeping
the name table here gives the CLI, the UI and the engine one list and one error message.
"""
from __future__ import annotations

import importlib
import importlib.util
import inspect
from typing import Any, Mapping

from ..base import LatentStudioError

#: name → (diffusers class name, config overrides that make the name mean what users expect).
SCHEDULERS: dict[str, tuple[str, dict[str, Any]]] = {
    "ddpm": ("DDPMScheduler", {}),                                    # ancestral sampling (Ho et al.)
    "ddim": ("DDIMScheduler", {}),                                    # eta = 0 deterministic … 1 ≈ DDPM
    "dpmsolver++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "solver_order": 2}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler_a": ("EulerAncestralDiscreteScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),              # PRK warm-up breaks a truncated schedule
    "lms": ("LMSDiscreteScheduler", {}),                              # needs scipy
    "heun": ("HeunDiscreteScheduler", {}),
}


def scheduler_names() -> list[str]:
    """Every name `make_scheduler` accepts, in a stable order (for --help and error messages)."""
    return list(SCHEDULERS)


def check_scheduler_name(name: Any) -> str:
    """The canonical (lower-case) name, or a `LatentStudioError` that lists the known ones."""
    key = str(name).strip().lower() if isinstance(name, str) else None
    if key not in SCHEDULERS:
        raise LatentStudioError(f"Unknown scheduler {name!r}: use one of {', '.join(SCHEDULERS)}.")
    return key


def make_scheduler(name: str, config: Mapping[str, Any]) -> Any:
    """A fresh scheduler of kind ``name`` over the model's schedule ``config`` (schedulers keep state,
    so every job gets its own). diffusers is imported here, not at module import, to keep the CLI quick."""
    key = check_scheduler_name(name)
    class_name, overrides = SCHEDULERS[key]
    if class_name == "LMSDiscreteScheduler" and importlib.util.find_spec("scipy") is None:
        raise LatentStudioError("The lms scheduler needs scipy (pip install scipy); or pick another scheduler.")
    cls = getattr(importlib.import_module("diffusers"), class_name)
    return cls.from_config(dict(config), **overrides)


def config_for(cls: Any, config: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a scheduler ``config`` that scheduler class ``cls`` takes (a DDPM config's ``variance_type`` is no
    DDIM's), so ``cls.from_config`` warns of no ignored key."""
    accepted = set(inspect.signature(cls.__init__).parameters)
    return {k: v for k, v in dict(config).items() if k in accepted}
