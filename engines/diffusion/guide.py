"""Guide and mask preparation, and the faithfulness metric, shared by both diffusion backends.

The guide is centre-cropped and resized to the model's resolution; a mask is cropped the same way so
it still lines up with the guide. Faithfulness is the SDEdit paper's masked L2: the mean squared
difference to the guide in [0, 1] units over masked pixels — `evaluation.faithfulness`, the measure
the GAN engine and the GAN vs diffusion comparison use too.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .. import imaging
from ..base import LatentStudioError
from ..evaluation.faithfulness import masked_pixel_losses


def prepare_guide(guide: Any, resolution: int) -> tuple[Image.Image, tuple[int, int]]:
    """``guide`` (path, PIL, array, bytes) → (RGB at ``resolution``², its original size)."""
    if guide is None:
        raise LatentStudioError("SDEdit needs a guide image (a photo or a colour sketch).")
    img = imaging.load_image(guide)
    return imaging.center_crop_resize(img, resolution), img.size


def prepare_mask(mask: Any, guide: Any, guide_size: tuple[int, int], resolution: int) -> Optional[np.ndarray]:
    """A float32 mask at ``resolution``² in [0, 1] (1 = re-imagine), cropped like the guide; None = no mask.

    ``mask="auto"`` derives it from the guide's strokes (`imaging.mask_from_scribble`, binarised after
    resizing). A mask of another aspect ratio than the guide cannot line up and is refused.
    """
    if mask is None:
        return None
    if isinstance(mask, str) and mask == "auto":
        m = imaging.mask_from_scribble(guide)
        m = _crop_resize(m, resolution)
        m = (m > 0.5).astype(np.float32)
    else:
        m = imaging.load_mask(mask)
        h, w = m.shape
        gw, gh = guide_size
        if abs(w * gh - h * gw) > max(w, h, gw, gh):  # allow a pixel of rounding
            raise LatentStudioError(f"The mask is {w}×{h} but the guide is {gw}×{gh}: they must have the same "
                                    "shape (or at least the same aspect ratio) to line up.")
        m = _crop_resize(m, resolution)
    imaging.check_mask(m)
    return m


def _crop_resize(m: np.ndarray, resolution: int) -> np.ndarray:
    h, w = m.shape
    s = min(w, h)
    top, left = (h - s) // 2, (w - s) // 2
    square = Image.fromarray(np.ascontiguousarray(m[top:top + s, left:left + s], dtype=np.float32), mode="F")
    return np.clip(np.asarray(square.resize((resolution, resolution), Image.BILINEAR)), 0.0, 1.0).astype(np.float32)


def mask_tensor(mask: Optional[np.ndarray], device: torch.device, dtype: torch.dtype) -> Optional[torch.Tensor]:
    """[H, W] array → [1, 1, H, W] tensor (None stays None)."""
    if mask is None:
        return None
    return torch.as_tensor(mask, dtype=dtype, device=device)[None, None]


def composite(images: Sequence[Image.Image], guide: Image.Image, mask: np.ndarray) -> list[Image.Image]:
    """``mask·image + (1 − mask)·guide`` per pixel, in uint8: outside the mask the result *is* the guide."""
    g = np.asarray(guide, dtype=np.float32)
    m = mask[..., None].astype(np.float32)
    out = []
    for img in images:
        blended = m * np.asarray(img, dtype=np.float32) + (1.0 - m) * g
        out.append(Image.fromarray(np.round(blended).clip(0, 255).astype(np.uint8)))
    return out


def faithfulness(images: Sequence[Image.Image], guide: Image.Image, mask: Optional[np.ndarray]) -> dict[str, list[float]]:
    """Per-image L2 to the guide in [0, 1] units: ``l2`` over all pixels, ``masked_l2`` over the mask (weighted
    by it; only when there is a mask)."""
    x = (imaging.to_tensor(list(images)) + 1) / 2
    y = (imaging.to_tensor(guide) + 1) / 2
    out = {"l2": masked_pixel_losses(x, y)[1].tolist()}
    if mask is not None:
        out["masked_l2"] = masked_pixel_losses(x, y, torch.as_tensor(mask, dtype=x.dtype)[None, None])[1].tolist()
    return out
