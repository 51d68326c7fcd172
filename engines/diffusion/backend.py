"""What the engine needs from a model family (our pixel DDPM, Stable Diffusion), so it stays one class.

A backend knows its resolution, its conditioning (classes or text) and how to run SDEdit and plain
sampling with diffusers; the engine does validation, guide/mask preparation, metrics and `Result`.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from ..base import ProgressCallback, make_generator
from .options import SDEditOptions, TranslateOptions


@dataclass
class RunOutput:
    """Images (PIL RGB), x0 previews of the first sample (PIL), and facts about the run for `Result.options`."""
    images: list[Image.Image]
    previews: list[Image.Image] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def frame_steps(total: int, frames: int) -> set[int]:
    """Indices (0-based) of the ``frames`` evenly spaced steps of ``total`` whose x0 predictions become previews."""
    if frames <= 0 or total <= 0:
        return set()
    return {int(i) for i in np.linspace(0, total - 1, min(frames, total)).round()}


def forwarded(holder: str, name: str, doc: Optional[str] = None) -> property:
    """A read-only property that is ``self.<holder>.<name>``: what the engine passes on from its backend, and a
    backend from its pipeline."""
    def get(self: Any) -> Any:
        return getattr(getattr(self, holder), name)
    get.__name__ = name
    return property(get, doc=doc)


def generators(seed: int, n: int) -> list[torch.Generator]:
    """One CPU generator per sample, seeded ``seed + i``: sample i is the same whatever ``n`` is, on any device."""
    return [make_generator(int(seed) + i) for i in range(n)]


class Backend(abc.ABC):
    """One model family behind the diffusion engine."""

    kind: str = ""
    device: torch.device
    dtype: torch.dtype

    @property
    @abc.abstractmethod
    def resolution(self) -> int:
        """Side of the square images the model works at (guides are centre-cropped/resized to it)."""

    @property
    def classes(self) -> list[str]:
        """Class names for class-conditional models, else []."""
        return []

    @property
    @abc.abstractmethod
    def num_train_timesteps(self) -> int:
        """T: what ``t0`` counts in."""

    @property
    @abc.abstractmethod
    def default_guidance(self) -> float:
        """Guidance scale used when the caller gives none."""

    @abc.abstractmethod
    def conditioning(self) -> str:
        """What the model is conditioned on, for `describe()`."""

    @abc.abstractmethod
    def parameters(self) -> int:
        """Number of weights (all networks)."""

    @abc.abstractmethod
    def check_conditioning(self, opts: SDEditOptions) -> dict[str, Any]:
        """Refuse conditioning the model cannot take; returns the resolved conditioning for `Result.options`."""

    @abc.abstractmethod
    def sdedit(self, guide: Image.Image, mask: Optional[np.ndarray], opts: SDEditOptions, seed: int,
               progress: Optional[ProgressCallback]) -> RunOutput:
        """SDEdit of ``guide`` (already at `resolution`) with ``opts``; ``opts.strength`` > 0."""

    @abc.abstractmethod
    def sample(self, opts: SDEditOptions, seed: int, progress: Optional[ProgressCallback]) -> RunOutput:
        """``opts.n`` images from noise."""

    def translate(self, image: Image.Image, opts: TranslateOptions, progress: Optional[ProgressCallback]) -> RunOutput:
        """``image`` (at `resolution`) DDIM-inverted under ``opts.source_class`` and regenerated under
        ``opts.class_name`` (both resolved)."""
        from ..base import LatentStudioError
        raise LatentStudioError(f"Class translation needs a class-conditional pixel model; this {self.kind} model "
                                "has no classes to translate between.")
