"""The StyleGAN trainers' configs with their limits, in plain Python (no torch): `TrainConfig` (``train-gan``,
`engines.stylegan.train`) and `EncoderTrainConfig` (``train-encoder``, `engines.stylegan.encoder_train`), so
the commands' flags, their --help and argument errors come from here before torch is loaded
(`engines.options.add_flags`). The trainers import them from here, and their old names there keep working."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..base import LatentStudioError
from ..options import REQUIRED, option
from ..training_options import AcceleratedTrainingOptions, TrainingOptions

#: Per-architecture defaults: StyleGAN2-ADA's small-resolution settings; DCGAN's paper optimiser.
ARCH_DEFAULTS: dict[str, dict[str, Any]] = {
    "stylegan2": dict(lr=0.0025, betas=(0.0, 0.99), r1_gamma=0.2, mixing=0.9),
    "dcgan": dict(lr=0.0002, betas=(0.5, 0.999), r1_gamma=0.0, mixing=0.0),
}
#: DiffAugment's transforms (`augment.POLICIES`), in the order they run.
AUGMENTATIONS = ("color", "translation", "cutout")


def parse_policy(text: str) -> list[str]:
    """"color,translation,cutout" → list; "" or "none" → no augmentation; unknown names → ValueError."""
    names = [p.strip() for p in text.split(",") if p.strip() and p.strip() != "none"]
    unknown = [p for p in names if p not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"unknown augmentation {unknown}; choose from {sorted(AUGMENTATIONS)}")
    return names


def _per_arch(key: str) -> str:
    """"0.0025 StyleGAN2, 0.0002 DCGAN": an architecture-dependent default, for --help."""
    return ", ".join(f"{defaults[key]:g} {arch}" for arch, defaults in ARCH_DEFAULTS.items())


@dataclass(kw_only=True)
class TrainConfig(AcceleratedTrainingOptions):
    """Everything a GAN run needs; stored in ``state.pt`` and the shipped config so a run can be traced.
    ``lr``, ``r1_gamma`` and ``mixing`` left unset take the architecture's (`ARCH_DEFAULTS`)."""
    data: str = option(REQUIRED, "data", "folder of training images (a validation share is held out)")
    arch: str = option("stylegan2", "arch", "our StyleGAN2 or the DCGAN baseline", choices=tuple(ARCH_DEFAULTS))
    resume: Optional[str] = option(None, "resume", "a run folder (exact resume) or a model folder in our format "
                                                   "(fine-tune)")
    resolution: int = option(64, "resolution", "training image size in pixels", min=4, max=2048, integer=True)
    batch: int = option(32, "batch", "images per step (the global batch)", min=2, max=65536, integer=True)
    lr: Optional[float] = option(None, "lr", "learning rate", min=1e-8, max=1.0, default_text=_per_arch("lr"))
    r1_gamma: Optional[float] = option(None, "r1_gamma", "R1 weight", min=0.0, max=1e4,
                                       default_text=_per_arch("r1_gamma"))
    r1_interval: int = option(16, "r1_interval", "steps between lazy R1 penalties", min=1, max=1000, integer=True)
    mixing: Optional[float] = option(None, "mixing", "style-mixing probability", min=0.0, max=1.0,
                                     default_text=_per_arch("mixing"))
    augment: str = option("color,translation,cutout", "augment", "DiffAugment policy: comma-separated subset of "
                                                                 f"{','.join(AUGMENTATIONS)}, or 'none'")
    xflip: bool = option(True, "xflip", "mirror training images at random")
    ema_kimg: float = option(10.0, "ema_kimg", "EMA half-life in kimg at batch 32", min=0.0, max=1e4)
    ema_rampup: Optional[float] = option(0.05, "ema_rampup", "EMA ramp-up: the half-life is at most this share of "
                                                             "the images seen so far (0: none)",
                                         min=0.0, max=1.0, optional=True)
    val_fraction: float = option(0.05, "val_fraction", "share of images held out", min=0.0, max=0.9)
    snapshot_minutes: float = option(5.0, "snapshot_minutes", "minutes between snapshots", min=0.0, max=1e9)
    model: dict[str, Any] = option({}, "model", 'architecture overrides as JSON, e.g. \'{"channel_base": 2048}\' '
                                                '(new runs only)')

    def check_run(self) -> None:
        try:
            parse_policy(self.augment)
        except ValueError as exc:
            raise LatentStudioError(str(exc)) from exc
        for key, value in ARCH_DEFAULTS[self.arch].items():
            if key != "betas" and getattr(self, key) is None:
                setattr(self, key, value)


@dataclass(kw_only=True)
class EncoderTrainConfig(TrainingOptions):
    """An encoder run: ``model`` is a GAN source (its G and D), ``data`` the real photos it was trained on."""
    model: str = option("default", "model", "the StyleGAN2 (with its discriminator): 'default' or a folder")
    data: str = option(REQUIRED, "data", "the photos the model was trained on (their training split is used)")
    resume: Optional[str] = option(None, "resume", "a run folder (exact resume) or an encoder folder (fine-tune, "
                                                   "e.g. for a generator that has trained further)")
    batch: int = option(16, "batch", "even: half generated samples, half photos", min=2, max=65536, integer=True)
    lr: float = option(2e-4, "lr", "learning rate", min=1e-8, max=1.0)
    perceptual: float = option(0.1, "perceptual", "weight of the discriminator-feature distance", min=0.0, max=1e4)
    latent: float = option(1.0, "latent", "weight of the w+ error on generated samples", min=0.0, max=1e4)
    offset_reg: float = option(0.01, "offset_reg", "weight keeping per-layer offsets small (editable)",
                               min=0.0, max=1e4)
    mixing: float = option(0.5, "mixing", "style-mixing probability of the generated samples", min=0.0, max=1.0)
    val_fraction: float = option(0.05, "val_fraction", "share of images held out", min=0.0, max=0.9)

    def check_run(self) -> None:
        if self.batch % 2:
            raise LatentStudioError(f"batch must be an even number ≥ 2 (half samples, half photos), "
                                    f"got {self.batch}.")
