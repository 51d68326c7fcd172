"""SDEdit options: each field owns its limits (`engines.options.option`), checked once, by the engine.

The CLI's ``sdedit`` / ``compare`` flags and the demo's SDEdit sliders take their ranges, defaults and
help from `SDEditOptions.limit(name)`; `SDEditOptions.check` validates everything a user can get
wrong, with messages that name the field and its range, for every backend alike.

The noise level can be given two ways — ``strength`` in [0, 1] (diffusers' img2img convention) or
``t0``, "N of the model's T training timesteps" (the SDEdit paper's convention); ``t0`` becomes
``strength = t0 / T``. Both backends then pick their timesteps the way diffusers' img2img pipeline
does (`strength.plan_timesteps`), so a strength means the same thing for Stable Diffusion and for our model.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Optional

from ..base import LatentStudioError
from ..options import Options, option
from . import strength as _strength
from .schedulers import SCHEDULERS


@dataclass
class SDEditOptions(Options):
    """The options of one SDEdit (or sampling) job. Unset (None): ``strength`` → 0.6 (or from ``t0``),
    ``guidance`` → the model's default, ``class_name`` → the model's first class."""
    steps: int = option(50, "Steps", "steps of the full schedule; SDEdit runs int(steps × strength) of them, at "
                        "least 1", min=1, max=1000, integer=True, default_text="50; 4 for turbo models")
    strength: Optional[float] = option(None, "Strength", "noise level: 0 returns the guide, 1 ignores it",
                                       min=0.0, max=1.0, step=0.05, shown_default=0.6)
    t0: Optional[int] = option(None, "t0", "noise level as N of the model's T (usually 1000) training timesteps, "
                               "e.g. 600; the same as strength N/T", min=0, max=1000, integer=True)
    scheduler: str = option("ddim", "Scheduler", "sampler: ddpm (ancestral), ddim (with eta), dpmsolver++, euler, "
                            "euler_a, pndm, lms (needs scipy), heun", choices=tuple(SCHEDULERS))
    eta: float = option(0.0, "eta", "DDIM stochasticity: 0 deterministic, 1 like DDPM; ddim only",
                        min=0.0, max=1.0, step=0.1)
    guidance: Optional[float] = option(None, "Guidance scale", "classifier-free guidance scale w: "
                                       "eps_u + w·(eps_c − eps_u); 1 = no guidance", min=0.0, max=50.0, step=0.5,
                                       default_text="3.0 for our model, 7.5 for Stable Diffusion, 0 for turbo "
                                                    "models; for Stable Diffusion w <= 1 means none")
    prompt: Optional[str] = option(None, "Prompt", "text prompt (Stable Diffusion models only)")
    negative_prompt: Optional[str] = option(None, "Negative prompt", "negative prompt (Stable Diffusion, with "
                                            "guidance > 1): what to steer away from")
    class_name: Optional[str] = option(None, "Class name", "class to generate (class-conditional models, e.g. our "
                                       "'cat' / 'grumpy cat')", default_text="the model's first class")
    n: int = option(1, "Number of samples (n)", "samples; sample i uses seed + i", min=1, max=16, integer=True)
    frames: int = option(10, "Frames", "x0 previews of the first sample (progress, GIF); 0 = none",
                         min=0, max=100, integer=True)

    def check(self, *, num_train_timesteps: int = 1000) -> "SDEditOptions":
        """A checked copy with ``strength`` resolved (from ``t0`` of ``num_train_timesteps``, or 0.6), or a
        `LatentStudioError` naming the field: ranges, choices, text, and the rules across fields."""
        T = int(num_train_timesteps)
        if self.t0 is not None and self.strength is not None:
            raise LatentStudioError("Give the noise level as strength or as t0, not both.")
        t0_limit = dataclasses.replace(self.limit("t0"), label=f"t0 (timesteps of {T})", max=T)
        values = self.check_values({"t0": t0_limit})
        if values["eta"] and values["scheduler"] != "ddim":
            raise LatentStudioError(f"eta only applies to the ddim scheduler (got eta={values['eta']} with "
                                    f"{values['scheduler']}); use --scheduler ddim or leave eta at 0.")
        t0, strength = values["t0"], values["strength"]
        if t0 is not None:
            # the epsilon keeps int(steps * strength) from rounding 29.0 down to 28 (0.29 * 100 = 28.999…)
            strength = min(1.0, t0 / T + 1e-9) if t0 else 0.0
        elif strength is None:
            strength = self.limit("strength").default
        if strength > 0 and _strength.steps_run(values["steps"], strength) == 0:
            raise LatentStudioError(zero_steps_message(values["steps"], strength))
        return dataclasses.replace(self, **{**values, "strength": float(strength)})


def zero_steps_message(steps: int, strength: float) -> str:
    """`strength.zero_steps_message` within this option's steps limit."""
    return _strength.zero_steps_message(steps, strength, max_steps=int(SDEditOptions.limit("steps").max))


@dataclass
class TranslateOptions(Options):
    """The options of one class translation (`DiffusionEngine.translate`): DDIM-invert a photo under its class, then
    regenerate it under another with classifier-free guidance that steers away from the source class. Unset (None):
    ``source_class`` → the model's first class, ``class_name`` → the first other class."""
    class_name: Optional[str] = option(None, "Target class", "the class to turn the photo into, e.g. 'grumpy cat'",
                                       default_text="the first class other than the source")
    source_class: Optional[str] = option(None, "Source class", "what the photo shows now, e.g. 'cat'",
                                         default_text="the model's first class")
    strength: float = option(0.9, "Depth", "how far to invert: lower keeps more of the photo, 1 inverts to pure "
                             "noise and changes the most", min=0.05, max=1.0, step=0.05,
                             default_text="0.9 (bench.translate: layout kept, clearly the target class)")
    steps: int = option(50, "Steps", "DDIM steps of the full schedule; int(steps × depth) run each way", min=2,
                        max=1000, integer=True)
    guidance: float = option(2.0, "Guidance scale", "w in s + w·(t − s) (t: target class, s: source class); 1 = the "
                             "target class alone", min=0.0, max=50.0, step=0.5)
    refine: int = option(2, "Inversion refinement", "fixed-point iterations per inversion step (more: a closer "
                         "round trip, each costs one more UNet call per step)", min=0, max=10, integer=True)

    def check(self) -> "TranslateOptions":
        values = self.check_values()
        if _strength.steps_run(values["steps"], values["strength"]) == 0:
            raise LatentStudioError(zero_steps_message(values["steps"], values["strength"]))
        return dataclasses.replace(self, **values)
