"""Diffusion engine: SDEdit (DDPM / DDIM / DPM-Solver++ / Euler …, classifier-free guidance, masks) over
our pixel-space class-conditional model or any Stable Diffusion checkpoint, all through diffusers.

Names are imported lazily (PEP 562) so that importing ``engines.diffusion.schedulers`` for the CLI's
--help does not pull in diffusers and transformers.
"""
from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DiffusionEngine": "engine", "SDEditOptions": "options",
    "ClassConditionalPixelPipeline": "pixel_pipeline", "PixelPipelineOutput": "pixel_pipeline", "build_pixel_pipeline": "pixel_pipeline",
    "DEFAULT_CLASSES": "pixel_pipeline", "DEFAULT_GUIDANCE": "pixel_pipeline",
    "DEFAULT_SCHEDULER_CONFIG": "pixel_pipeline", "DEFAULT_UNET_CONFIG": "pixel_pipeline",
    "SCHEDULERS": "schedulers", "make_scheduler": "schedulers", "scheduler_names": "schedulers",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
