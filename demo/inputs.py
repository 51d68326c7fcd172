"""UI values → what the engines take: a canvas becomes (sketch, stroke mask); files are checked early.

The canvas is a ``gr.ImageEditor`` value ``{"background", "layers", "composite"}`` (PIL, RGBA). Strokes
drawn on the layers are the mask; with no strokes, an uploaded sketch (the background) is the
scribble itself and its mask comes from its alpha or its non-background pixels.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from PIL import Image

from engines import imaging
from engines.base import LatentStudioError


def _alpha(img: Optional[Image.Image]) -> Optional[np.ndarray]:
    if img is None:
        return None
    rgba = img.convert("RGBA")
    return np.asarray(rgba, dtype=np.float32)[..., 3] / 255.0


def canvas_to_sketch(value: Any) -> tuple[Image.Image, np.ndarray]:
    """(sketch as RGB on white, float mask HxW in {0, 1}) from an ImageEditor value, a path or an image."""
    if value is None:
        raise LatentStudioError("Draw a sketch first (or pick an example).")
    if not isinstance(value, dict):  # a plain image or path (API callers, examples)
        img = imaging.load_rgba(value)
        return imaging.load_image(img), _nonempty(imaging.mask_from_scribble(img))
    background = value.get("background")
    layers = [layer for layer in (value.get("layers") or []) if layer is not None]
    composite = value.get("composite")
    stroke_masks = [a for a in (_alpha(layer) for layer in layers) if a is not None and a.max() > 0]
    if stroke_masks:
        mask = (np.max(np.stack(stroke_masks), axis=0) > 0.5).astype(np.float32)
        base = composite if composite is not None else background
        if base is None:
            raise LatentStudioError("The canvas has no image data; draw again.")
        return imaging.load_image(imaging.load_rgba(base)), _nonempty(mask)
    source = background if background is not None else composite
    if source is None or _alpha(source).max() == 0:
        raise LatentStudioError("The sketch is empty: draw some strokes (or upload a sketch).")
    img = imaging.load_rgba(source)
    return imaging.load_image(img), _nonempty(imaging.mask_from_scribble(img))


def _nonempty(mask: np.ndarray) -> np.ndarray:
    if float(mask.sum()) == 0:
        raise LatentStudioError("The sketch is empty: draw some strokes (or upload a sketch with visible strokes).")
    return mask


def mask_image(mask: np.ndarray) -> Image.Image:
    """A float mask as an 8-bit grayscale picture (white = strokes)."""
    return Image.fromarray((np.clip(mask, 0, 1) * 255).round().astype(np.uint8), mode="L")


def overlay(result: Image.Image, sketch: Image.Image, mask: np.ndarray, alpha: float = 0.5) -> Image.Image:
    """The result with the sketch's strokes laid over it (half transparent), to judge faithfulness."""
    size = result.size
    m = np.asarray(mask_image(mask).resize(size, Image.BILINEAR), dtype=np.float32)[..., None] / 255.0 * alpha
    r = np.asarray(result.convert("RGB"), dtype=np.float32)
    s = np.asarray(sketch.convert("RGB").resize(size, Image.LANCZOS), dtype=np.float32)
    return Image.fromarray(np.round(r * (1 - m) + s * m).astype(np.uint8))


def load_photo(value: Any, what: str = "photo") -> Image.Image:
    """An uploaded image (path or PIL) as RGB, with the engines' checks (type, size, mode)."""
    if value is None:
        raise LatentStudioError(f"Upload a {what} first (or pick an example).")
    return imaging.load_image(value)


def whole(value: Any, name: str, low: int, high: int) -> int:
    """A number from the UI or API as an int in [low, high], with the limits in the error."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LatentStudioError(f"{name} must be a number between {low} and {high}, got {value!r}.") from None
    if not np.isfinite(number) or number != int(number) or not low <= number <= high:
        raise LatentStudioError(f"{name} must be a whole number between {low} and {high}, got {value!r}.")
    return int(number)


def real(value: Any, name: str, low: float, high: float) -> float:
    """A number from the UI or API as a float in [low, high], with the limits in the error."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise LatentStudioError(f"{name} must be a number between {low} and {high}, got {value!r}.") from None
    if not np.isfinite(number) or not low <= number <= high:
        raise LatentStudioError(f"{name} must be between {low} and {high}, got {value!r}.")
    return number
