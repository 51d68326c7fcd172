"""The pixel DDPM trainer's config with its limits, `DiffusionTrainConfig`, in plain Python (no torch), so
``train-diffusion``'s flags, their --help and argument errors come from here before torch and diffusers are
loaded (`engines.options.add_flags`). `engines.diffusion.train` imports it from here, and its old name there
keeps working."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..base import LatentStudioError
from ..options import option
from ..training_options import AcceleratedTrainingOptions

PREDICTION_TYPES = ("v_prediction", "epsilon")
LR_DECAYS = ("constant", "cosine", "linear")


@dataclass(kw_only=True)
class DiffusionTrainConfig(AcceleratedTrainingOptions):
    """A run: ``classes`` maps class name → image folder (order = class ids)."""
    classes: dict[str, str]                              # the CLI's --class NAME=FOLDER, repeated
    resume: Optional[str] = option(None, "resume", "a run folder of train-diffusion to continue exactly")
    init: Optional[str] = option(None, "init", "a saved pipeline folder (weights/ddpm-cats64, a run's latest/) to "
                                               "fine-tune: its UNet, fresh optimiser, EMA and counters")
    batch: int = option(32, "batch", "images per step (the global batch)", min=1, max=65536, integer=True)
    lr: float = option(2e-4, "lr", "peak learning rate (AdamW)", min=1e-8, max=1.0)
    warmup_steps: int = option(500, "warmup_steps", "steps of linear learning-rate warm-up", min=0, max=10_000_000,
                               integer=True)
    lr_decay: str = option("constant", "lr_decay", "the learning rate after warm-up: constant, or a cosine / linear "
                                                  "decay that reaches 0 where this run's --kimg ends",
                           choices=LR_DECAYS)
    weight_decay: float = option(0.0, "weight_decay", "AdamW weight decay", min=0.0, max=1.0)
    ema_decay: float = option(0.9995, "ema_decay", "decay of the EMA weights (what gets saved)", min=0.0, max=1.0)
    label_dropout: float = option(0.1, "label_dropout", "share of labels replaced by the null class (classifier-free "
                                                        "guidance)", min=0.0, max=1.0)
    min_class_share: float = option(0.25, "min_class_share", "each class is drawn at least this often (oversamples "
                                                             "small classes)", min=0.0, max=1.0)
    xflip: bool = option(True, "xflip", "mirror training images at random")
    val_fraction: Optional[dict[str, float]] = None    # per class; default 0.05 ("grumpy cat": 0.1)
    grid_steps: int = option(50, "grid_steps", "DDIM steps of the snapshot sample grids", min=1, max=1000,
                             integer=True)
    unet: dict[str, Any] = option({}, "unet", "UNet2DModel config overrides as JSON (new runs only)")
    resolution: Optional[int] = option(None, "resolution", "train on images of this size; e.g. 32 first, then resume "
                                                           "at 64", min=4, max=2048, integer=True,
                                       default_text="the model's, 64")
    prediction_type: str = option("v_prediction", "prediction_type", "what the UNet predicts (v: well-posed at both "
                                                                     "ends of the cosine schedule)",
                                  choices=PREDICTION_TYPES)
    snr_gamma: Optional[float] = option(None, "snr_gamma", "min-SNR-γ loss weighting (e.g. 5); 0 or unset: plain "
                                                           "v-MSE, which learns colour and layout better",
                                        min=0.0, max=1e4, default_text="0")
    high_noise_share: float = option(0.5, "high_noise_share", "share of training timesteps drawn from the noisier "
                                                              "half (t ≥ 500 of 1000: SNR < 1 on the cosine "
                                                              "schedule, where colour and layout are decided); 0.5: "
                                                              "uniform", min=0.01, max=0.99)

    def check_run(self) -> None:
        if not self.classes:
            raise LatentStudioError("Give at least one class: name → image folder.")
        if self.init and self.resume:
            raise LatentStudioError("Give resume (a run folder) or init (a saved pipeline to fine-tune), not both.")
        if self.snr_gamma == 0:
            self.snr_gamma = None  # plain MSE
        if self.lr_decay != "constant" and self.kimg is None:
            raise LatentStudioError(f"lr_decay {self.lr_decay!r} decays to 0 where the run ends, so it needs a kimg "
                                    f"budget (--kimg); with only --minutes use lr_decay 'constant'.")

    def val_share(self, name: str) -> float:
        default = 0.1 if "grumpy" in name else 0.05
        return (self.val_fraction or {}).get(name, default)
