"""Does the result hold a cat face? A semantic realism measure that does not come from our own models.

Faithfulness rewards a flat patch and the patch statistics of `realism` see texture, not content: orange fur
with two black dots scores like a photo there. This asks OpenCV's frontal cat-face Haar cascade (the detector
`faces` uses, trained by OpenCV on photos) whether the image, as a whole, shows a cat's face: the image is
upscaled to 256 px with a margin, and a face counts when its box covers at least `MIN_BOX` of the side (a
model's image is a face crop, so a small "face" in a corner is a false alarm) and the cascade's confidence
(its last stage's level weight) reaches `MIN_CONFIDENCE`.

Calibrated with ``python -m bench.cat_faces`` (64 px; bench/results/cat_faces.json): a face is found in 0.84 of
446 held-out cat photos and 0.88 / 0.97 of the default StyleGAN2's samples at ψ 1 / 0.7, but also in 5 of 13
sketches and 3 of 6 simple canvas drawings (clean cartoon cats with eyes fire it): it tells a cat face from fur
with dots, not a photo from a drawing, so report it beside the patch realism and faithfulness. `confidence` is
the continuous score (0 when no face), used to rank a scribble's restarts.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

UPSCALE = 256            # the cascade's 24 px window needs the face at about this size
MIN_BOX = 0.3            # a face box smaller than this share of the image side is not the image's face
MIN_CONFIDENCE = 1.0     # the cascade's level weight: 0.5-1 on sketches it fires on, median 2.7 on photos


def _gray(image: torch.Tensor) -> np.ndarray:
    import cv2
    x = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    x = cv2.resize(x, (UPSCALE, UPSCALE), interpolation=cv2.INTER_CUBIC)
    gray = cv2.cvtColor(np.ascontiguousarray(x), cv2.COLOR_RGB2GRAY)
    pad = UPSCALE // 2  # a face that fills the image is found more reliably with a margin around it
    return cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)


def _detector() -> Any:
    from ..faces import _cascade  # the one place that loads OpenCV's cascade (and says how to install it)
    return _cascade()


@torch.no_grad()
def confidence(images: torch.Tensor) -> torch.Tensor:
    """Per image [N, 3, H, W] in [-1, 1]: the cascade's confidence in its best face of at least `MIN_BOX` of
    the side, 0 when it finds none ([N], float)."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"cat-face confidence needs RGB images [N, 3, H, W], got {list(images.shape)}")
    detector = _detector()
    side = int(UPSCALE * MIN_BOX)
    out = []
    for image in images:
        found, _, weights = detector.detectMultiScale3(_gray(image), scaleFactor=1.05, minNeighbors=3,
                                                       minSize=(side, side), outputRejectLevels=True)
        out.append(float(np.max(weights)) if len(found) else 0.0)
    return torch.tensor(out)


def holds_face(images: torch.Tensor) -> torch.Tensor:
    """Per image [N]: True when the cascade finds a confident cat face covering the image (see the module doc)."""
    return confidence(images) >= MIN_CONFIDENCE
