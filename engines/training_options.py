"""What every trainer's config shares, in plain Python (no torch): where a run writes, its budget, seed, device and
snapshot interval (`TrainingOptions`), and for the trainers that run on accelerate, precision and gradient
accumulation (`AcceleratedTrainingOptions`). Each field is an `option` with its limits, so the training commands'
flags, their --help and the configs' checks come from one declaration (`engines.options.add_flags`); the
trainers' configs (`engines.stylegan.train_options`, `engines.diffusion.train_options`) add their own fields."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .base import LatentStudioError
from .options import REQUIRED, Options, option

#: Mixed precision the trainers support: bf16 autocast needs no loss scaling (fp16 would).
PRECISIONS = ("no", "bf16")


@dataclass(kw_only=True)
class TrainingOptions(Options):
    """A run's folder, budget (``minutes`` and/or ``kimg``), seed, device and snapshot interval. Checked when
    made: every field against its limit (the message names the field and its range), then `check_run`."""
    out: str = option(REQUIRED, "out", "run folder for snapshots")
    minutes: Optional[float] = option(None, "minutes", "wall-clock budget", min=0.0, max=1e7)
    kimg: Optional[float] = option(None, "kimg", "budget in thousands of training images shown", min=0.0, max=1e7)
    seed: int = option(0, "seed", "random seed", min=0, max=2**32 - 1, integer=True)
    device: str = option("auto", "device", "where to run: 'auto' (CUDA if present, else CPU), 'cpu', 'cuda' or "
                                           "'cuda:N'")
    snapshot_minutes: float = option(10.0, "snapshot_minutes", "minutes between snapshots", min=0.0, max=1e9)

    def __post_init__(self) -> None:
        for name, value in self.check_values().items():
            setattr(self, name, value)
        if self.minutes is None and self.kimg is None:
            raise LatentStudioError("Give a training budget: minutes and/or kimg.")
        self.check_run()

    def check_run(self) -> None:
        """The rules across fields of a trainer's config (its fields are checked and converted by then)."""


@dataclass(kw_only=True)
class AcceleratedTrainingOptions(TrainingOptions):
    """A run on accelerate: ``batch`` is the global batch of one step, split over the processes of
    ``accelerate launch`` / ``torchrun`` and ``accumulate`` micro-batches each."""
    mixed_precision: Optional[str] = option(
        None, "mixed_precision", "autocast precision", choices=PRECISIONS,
        default_text="accelerate's config / `accelerate launch --mixed_precision`, else bf16 on CUDA and none on "
                     "the CPU")
    accumulate: int = option(1, "accumulate", "micro-batches per step and process (gradient accumulation); --batch is "
                                              "the global batch of one step, split over the processes of `accelerate "
                                              "launch` / `torchrun` and these", min=1, max=4096, integer=True)
