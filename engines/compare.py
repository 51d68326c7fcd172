"""GAN vs diffusion on one sketch: each engine's `from_guide`, measured the same way.

The CLI's ``compare`` command and the app's "GAN vs Diffusion" tab both run `run_engine` once per
engine and read the same figures: the masked L2 to the strokes (`evaluation.faithfulness`, the sketch and
its mask resized to each result's resolution, so models of different sizes are measured alike) at every pixel and
as a 16×16 colour layout, whether OpenCV's cat-face detector finds a face in the result (`evaluation.cat_faces`: the
headline realism figure; a flat patch or a painted sketch has none), the distance to real photos in the GAN's
discriminator features where the caller gives that yardstick (`evaluation.photo_distance`: 1 ≈ a photo), the patch
realism (`evaluation.realism`, texture only) and the seconds it took.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from . import imaging
from .base import Engine, ProgressCallback, Result
from .evaluation import cat_faces
from .evaluation.faithfulness import layout_l2, masked_pixel_losses
from .evaluation.photo_distance import PhotoDistance
from .evaluation.realism import PatchRealism


@dataclass
class EngineRun:
    """One engine's answer to the sketch: its image, how faithful it is to the strokes, how long it took."""
    name: str
    image: Image.Image
    masked_l2: float
    realism: Optional[float]
    seconds: float
    options: dict[str, Any] = field(default_factory=dict)
    result: Optional[Result] = None
    layout_l2: Optional[float] = None     # masked L2 of the 16×16 colour layout (what a drawing means)
    cat_face: Optional[float] = None      # the cat-face detector's confidence (0: none; ≥ 1: a face)
    photo_distance: Optional[float] = None  # to real photos in the GAN's D features (1 ≈ a photo)

    @property
    def holds_face(self) -> Optional[bool]:
        return None if self.cat_face is None else self.cat_face >= cat_faces.MIN_CONFIDENCE

    def row(self) -> dict[str, Any]:
        return {"holds_cat_face": self.holds_face, "cat_face_confidence": self.cat_face, "layout_l2": self.layout_l2,
                "photo_distance": self.photo_distance, "masked_l2": self.masked_l2, "realism": self.realism, "seconds": self.seconds, "options": self.options}


def square_sketch(sketch: Any, mask: Any = None, *, dilate: int = 0) -> tuple[Image.Image, np.ndarray]:
    """The centre square of the sketch (RGB, alpha composited on white) and its stroke mask [H, W] in [0, 1]:
    ``mask`` if given (an image or array of the sketch's size or aspect), else derived from the strokes."""
    rgba = imaging.load_rgba(sketch)
    (w, h), side = rgba.size, min(rgba.size)
    left, top = (w - side) // 2, (h - side) // 2
    rgba = rgba.crop((left, top, left + side, top + side))
    if mask is not None:
        m = imaging.load_mask(mask)
        if m.shape != (h, w):
            m = imaging.load_mask(mask, size=(w, h))
        m = m[top:top + side, left:left + side]
    else:
        m = imaging.mask_from_scribble(rgba, dilate=dilate)
    imaging.check_mask(m)
    return imaging.load_image(rgba), np.ascontiguousarray(m, dtype=np.float32)


def _at_size(image: Image.Image, sketch: Image.Image, mask: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """The sketch [1, 3, R, R] in [-1, 1] and its mask [1, 1, R, R] at the image's resolution."""
    size = image.size
    target = imaging.to_tensor(sketch.resize(size, Image.LANCZOS))
    m = Image.fromarray((np.asarray(mask, dtype=np.float32) * 255).round().astype(np.uint8), mode="L")
    return target, torch.as_tensor(np.asarray(m.resize(size, Image.BILINEAR), dtype=np.float32) / 255.0)[None, None]


def stroke_l2(image: Image.Image, sketch: Image.Image, mask: np.ndarray) -> float:
    """Masked L2 (in [0, 1] units) of ``image`` to the strokes, at the image's resolution."""
    target, m = _at_size(image, sketch, mask)
    _, l2 = masked_pixel_losses((imaging.to_tensor(image) + 1) / 2, (target + 1) / 2, m)
    return float(l2[0])


def stroke_layout_l2(image: Image.Image, sketch: Image.Image, mask: np.ndarray) -> float:
    """Masked L2 (in [0, 1] units) of the strokes' 16×16 colour layout (`evaluation.faithfulness.layout_l2`)."""
    target, m = _at_size(image, sketch, mask)
    return float(layout_l2(imaging.to_tensor(image), target, m)[0])


def run_engine(name: str, engine: Engine, sketch: Image.Image, mask: np.ndarray, *, seed: int = 0,
               guide_mask: Any = "strokes", progress: Optional[ProgressCallback] = None,
               photo_distance: Optional[PhotoDistance] = None, **options: Any) -> EngineRun:
    """``engine.from_guide`` on the sketch and measure it. ``guide_mask``: "strokes" gives the engine the stroke
    mask (the GAN matches only the strokes; SDEdit re-imagines only under them), None the whole sketch.
    ``photo_distance``: one yardstick for every engine's result (the GAN's, `GanEngine.photo_distance`), or none."""
    start = time.perf_counter()
    result = engine.from_guide(sketch, mask if guide_mask == "strokes" else guide_mask, seed=seed,
                               progress=progress, **options)
    seconds = time.perf_counter() - start
    image = result.images[0]
    realism = PatchRealism.default()
    score = float(realism.score(imaging.to_tensor(image))[0]) if realism is not None else None
    return EngineRun(name, image, stroke_l2(image, sketch, mask), score, seconds, result.options, result,
                     layout_l2=stroke_layout_l2(image, sketch, mask),
                     cat_face=float(cat_faces.confidence(imaging.to_tensor(image))[0]),
                     photo_distance=(float(photo_distance.distance(imaging.to_tensor(image))[0])
                                     if photo_distance is not None else None))


def summary(runs: list[EngineRun]) -> str:
    """One line per comparison (the app's status): each engine's face, distance to photos, layout L2 and seconds."""
    parts = []
    for r in runs:
        bits = ["cat face found" if r.holds_face else "no cat face"]
        if r.photo_distance is not None:
            bits.append(f"distance to photos {r.photo_distance:.2f} (1 ≈ a photo)")
        if r.layout_l2 is not None:
            bits.append(f"layout L2 {r.layout_l2:.4f}")
        parts.append(f"{r.name}: {', '.join(bits)}, {r.seconds:.1f} s")
    return " · ".join(parts)


def table(runs: list[EngineRun]) -> str:
    """The comparison as a Markdown table (what the app shows and the CLI prints)."""
    lines = ["| engine | cat face (detector) | distance to photos (1 ≈ a photo) ↓ | layout L2 to the strokes ↓ | "
             "masked L2 (every pixel) ↓ | patch realism (texture; 0.5 ≈ photo) | seconds |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.name} | {'–' if r.cat_face is None else ('found' if r.holds_face else 'none')}"
              f"{'' if not r.cat_face else f' ({r.cat_face:.1f})'} | "
              f"{'–' if r.photo_distance is None else f'{r.photo_distance:.2f}'} | "
              f"{'–' if r.layout_l2 is None else f'{r.layout_l2:.4f}'} | {r.masked_l2:.4f} | "
              f"{'–' if r.realism is None else f'{r.realism:.2f}'} | {r.seconds:.1f} |" for r in runs]
    return "\n".join(lines)
