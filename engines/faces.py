"""Photos as people have them: find the cat's face, crop it the way the training photos are framed, and
paste an edited crop back into the original photo with a feathered edge.

The detector is OpenCV's frontal cat-face Haar cascade (``haarcascade_frontalcatface_extended.xml``,
shipped inside the ``opencv-python-headless`` 4.x wheel; 5.x no longer ships the cascades). Measured on
407 of 451 held-out-style training crops (upscaled to 256 px inside a larger canvas), the detected box is
0.94 of the training frame, centred 0.8 % of the frame below its centre: `FRAME_PER_BOX` and
`FRAME_SHIFT` turn a detection into that framing, so a photo's crop looks like what the models learnt.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
from PIL import Image, ImageFilter

from . import imaging
from .base import LatentStudioError

FRAME_PER_BOX = 1 / 0.94   # training frame side / detected face box side
FRAME_SHIFT = -0.008       # frame centre minus box centre, in frame sides (up is negative)
CASCADE = "haarcascade_frontalcatface_extended.xml"


@dataclass(frozen=True)
class FaceCrop:
    """A square crop of ``photo`` (left, top, side in the photo's pixels; it may reach past the edges, which are
    then filled by edge replication) and whether a face was found (False: the centre square)."""
    photo: Image.Image
    box: tuple[int, int, int]
    found: bool

    @property
    def image(self) -> Image.Image:
        left, top, side = self.box
        return _crop_padded(self.photo, left, top, side)


_LOCAL = threading.local()


def _cascade() -> Any:
    """OpenCV's cat-face cascade, read from its XML once per thread (every detection and every scored restart uses
    it; one per thread because OpenCV does not promise that one classifier may serve several threads at once)."""
    cached = getattr(_LOCAL, "detector", None)
    if cached is not None:
        return cached
    try:
        import cv2
    except ImportError as exc:
        raise LatentStudioError("Finding cat faces needs OpenCV: pip install 'opencv-python-headless>=4.8,<5'.") from exc
    path = f"{cv2.data.haarcascades}{CASCADE}"
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise LatentStudioError(f"OpenCV {cv2.__version__} has no {CASCADE} (OpenCV 5 dropped the Haar cascades): "
                                "pip install 'opencv-python-headless>=4.8,<5'.")
    _LOCAL.detector = detector
    return detector


def detect_cat_faces(photo: Any, min_fraction: float = 0.08) -> list[tuple[int, int, int, int]]:
    """Cat faces in ``photo`` as (x, y, w, h) boxes, the most confident first (the cascade's level weight);
    faces under ``min_fraction`` of the shorter side are ignored. Small photos are upscaled first (the
    cascade needs about 48 px faces)."""
    import cv2
    img = imaging.load_image(photo)
    scale = max(1.0, 256 / min(img.size))
    work = img.resize((round(img.width * scale), round(img.height * scale)), Image.BICUBIC) if scale > 1 else img
    gray = cv2.cvtColor(np.asarray(work), cv2.COLOR_RGB2GRAY)
    pad = min(gray.shape) // 2  # a face that fills the photo is found more reliably with a margin around it
    gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    side = int(min(work.size) * min_fraction)
    found, _, weights = _cascade().detectMultiScale3(gray, scaleFactor=1.05, minNeighbors=3,
                                                     minSize=(max(side, 24),) * 2, outputRejectLevels=True)
    ranked = sorted(zip((np.asarray(weights).reshape(-1) if len(found) else []), found if len(found) else []),
                    key=lambda wb: float(wb[0]), reverse=True)
    return [(round((x - pad) / scale), round((y - pad) / scale), round(w / scale), round(h / scale))
            for _, (x, y, w, h) in ranked]


def frame_for(box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """The training-style square frame (left, top, side) around a detected face box."""
    x, y, w, h = box
    side = max(w, h) * FRAME_PER_BOX
    cx, cy = x + w / 2, y + h / 2 + FRAME_SHIFT * side
    return round(cx - side / 2), round(cy - side / 2), max(1, round(side))


def crop_face(photo: Any, *, centre_if_none: bool = False) -> FaceCrop:
    """The largest cat face of ``photo``, framed like the training data. No face: a clear error, or with
    ``centre_if_none`` the centre square (``found`` False)."""
    img = imaging.load_image(photo)
    boxes = detect_cat_faces(img)
    if boxes:
        return FaceCrop(img, frame_for(boxes[0]), True)
    if not centre_if_none:
        raise LatentStudioError("No cat face found in this photo. Turn 'find the face' off to use the centre "
                                "crop, or crop the photo to the face yourself.")
    side = min(img.size)
    return FaceCrop(img, ((img.width - side) // 2, (img.height - side) // 2, side), False)


def _crop_padded(img: Image.Image, left: int, top: int, side: int) -> Image.Image:
    a = np.asarray(img)
    pad = max(0, -left, -top, left + side - img.width, top + side - img.height)
    if pad:
        a = np.pad(a, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
    return Image.fromarray(a[top + pad:top + pad + side, left + pad:left + pad + side])


def paste_back(crop: FaceCrop, edited: Image.Image, feather: float = 0.08) -> Image.Image:
    """``edited`` (the crop after editing, any size) resized into the crop's box of the original photo, blended
    in over a border of ``feather`` × the side so no seam shows; outside the box the photo is untouched."""
    left, top, side = crop.box
    out = crop.photo.copy()
    patch = edited.convert("RGB").resize((side, side), Image.LANCZOS)
    width = max(1, round(side * feather))
    mask = Image.new("L", (side, side), 0)
    mask.paste(255, (width, width, side - width, side - width))
    mask = mask.filter(ImageFilter.GaussianBlur(width / 2))
    out.paste(patch, (left, top), mask)
    return out
