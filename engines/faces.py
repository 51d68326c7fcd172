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
from typing import Any, Iterator, Optional

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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


#: Working sizes (shorter side, px) the photo is searched at: the cascade's window is 24 px, so a face that fills a
#: 450 px photo is found only on a small copy and a small face in a large photo only on a big one. Each copy gets an
#: edge-replicated margin of `MARGIN` × its side, so a face cut by the frame is still a face.
WORK_SIDES = (96, 128, 192, 256)
MARGIN = 0.75
TILTS = (-15.0, 15.0)  # degrees; searched only when no upright face is found (the cascade wants upright faces)
MIN_CONFIDENCE = 1.0  # the cascade's level weight a box needs to count as a face (below: textures, noses, ears)
NESTED = 0.7  # a box with this share of its area inside a larger face is a part of that face (a nose, an eye)


@dataclass(frozen=True)
class Detection:
    """A cat face: box (x, y, w, h) in the photo's pixels and the cascade's confidence (its level weight)."""
    box: tuple[int, int, int, int]
    confidence: float


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """The area of a ∩ b over the area of a."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / max(1, aw * ah)


def _search(img: Image.Image, min_fraction: float, tilt: float = 0.0, neighbours: int = 3) -> list[Detection]:
    """The cascade on every working-size copy of ``img`` (turned by ``tilt`` degrees about its centre; boxes are
    mapped back by their centres, so a tilted face gets the upright box around it)."""
    return [d for found in _search_sizes(img, min_fraction, tilt, neighbours) for d in found]


def _search_sizes(img: Image.Image, min_fraction: float, tilt: float = 0.0,
                  neighbours: int = 3) -> Iterator[list[Detection]]:
    """`_search` one working size at a time, smallest first (what it finds there, maybe nothing)."""
    import cv2
    for work_side in sorted({*WORK_SIDES, min(max(min(img.size), 256), 512)}):
        scale = work_side / min(img.size)
        if scale > 4:  # a tiny photo: the 96 px copy would be a blur of an upscale
            continue
        work = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.BICUBIC)
        gray = cv2.cvtColor(np.asarray(work), cv2.COLOR_RGB2GRAY)
        pad = int(min(gray.shape) * MARGIN)
        gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        h, w = gray.shape
        if tilt:
            gray = cv2.warpAffine(gray, cv2.getRotationMatrix2D((w / 2, h / 2), tilt, 1.0), (w, h),
                                  borderMode=cv2.BORDER_REPLICATE)
        back = cv2.getRotationMatrix2D((w / 2, h / 2), -tilt, 1.0)
        found = []
        side = int(min(work.size) * min_fraction)
        boxes, _, weights = _cascade().detectMultiScale3(gray, scaleFactor=1.05, minNeighbors=neighbours,
                                                         minSize=(max(side, 24),) * 2, outputRejectLevels=True)
        for (x, y, bw, bh), weight in zip(boxes if len(boxes) else [], np.asarray(weights).reshape(-1)):
            cx, cy = back @ np.array([x + bw / 2, y + bh / 2, 1.0])
            found.append(Detection((round((cx - bw / 2 - pad) / scale), round((cy - bh / 2 - pad) / scale),
                                    round(bw / scale), round(bh / scale)), float(weight)))
        yield found


def detections(photo: Any, min_fraction: float = 0.08, neighbours: int = 3) -> list[Detection]:
    """Every cat face the cascade finds in ``photo`` at any of `WORK_SIDES` (upright, then tilted by `TILTS` when no
    upright one is confident), boxes of the same face merged keeping the most confident, the most confident first;
    faces under ``min_fraction`` of the shorter side are ignored; ``neighbours``: the cascade's minNeighbors (fewer
    finds fainter faces, and more false ones)."""
    img = imaging.load_image(photo)
    found = _search(img, min_fraction, neighbours=neighbours)
    if not any(d.confidence >= MIN_CONFIDENCE for d in found):
        for tilt in TILTS:
            found += _search(img, min_fraction, tilt, neighbours)
    merged: list[Detection] = []
    for d in sorted(found, key=lambda d: d.confidence, reverse=True):  # the same face seen at several sizes: keep one
        if not any(_overlap(d.box, m.box) > 0.5 and _overlap(m.box, d.box) > 0.5 for m in merged):
            merged.append(d)
    return merged


def detect_cat_faces(photo: Any, min_fraction: float = 0.08) -> list[tuple[int, int, int, int]]:
    """Cat faces in ``photo`` as (x, y, w, h) boxes: confident ones (`MIN_CONFIDENCE`) that are not part of a larger
    confident face, the most confident first."""
    faces = [d for d in detections(photo, min_fraction) if d.confidence >= MIN_CONFIDENCE]
    whole = [d for d in faces if not any(o is not d and o.box[2] > d.box[2] and _overlap(d.box, o.box) >= NESTED
                                         for o in faces)]
    return [d.box for d in whole]


def frame_for(box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """The training-style square frame (left, top, side) around a detected face box."""
    x, y, w, h = box
    side = max(w, h) * FRAME_PER_BOX
    cx, cy = x + w / 2, y + h / 2 + FRAME_SHIFT * side
    return round(cx - side / 2), round(cy - side / 2), max(1, round(side))


def crop_face(photo: Any, *, centre_if_none: bool = False) -> FaceCrop:
    """The most confident cat face of ``photo`` (`detect_cat_faces`: a nose or an eye found inside a larger face does
    not count), framed like the training data. No face: a clear error, or with ``centre_if_none`` the centre square
    (``found`` False)."""
    img = imaging.load_image(photo)
    boxes = detect_cat_faces(img)
    if boxes:
        return FaceCrop(img, frame_for(boxes[0]), True)
    if not centre_if_none:
        raise LatentStudioError("No cat face found in this photo. Turn 'find the face' off to use the centre "
                                "crop, or crop the photo to the face yourself.")
    return centre_crop(img)


#: The smallest face (share of the shorter side) the domain check looks for: a photo the GAN inverts is a face crop.
DOMAIN_MIN_FRACTION = 0.2
DOMAIN_NEIGHBOURS = 2  # fainter boxes count for the domain check (at 3: 16 of 446 held-out cats warned, at 2: 10)
NOT_A_CAT = ("no cat face in this photo (OpenCV's cat-face detector finds none, at any confidence): the model only "
             "knows cat faces, so the figures are a pixel fit and edits will not mean much")
CENTRE_USED = "no cat face found: the centre square was used"


def domain_warnings(photo: Any) -> list[str]:
    """What to tell a user before trusting a GAN inversion of ``photo``: empty for a cat face, else `NOT_A_CAT`.

    The rule is the cascade finding no box at all (`detections` with `DOMAIN_NEIGHBOURS`, any confidence, faces ≥ 20 %
    of the side): measured by ``python -m bench.face_finder --others``, it warns about 10 of 446 held-out cat photos
    and 21 of the 22 non-cat photos of scikit-image's data (coffee, astronaut, brick, camera, horse, coins, …; not
    motorcycle_right), and not about its cat (chelsea)."""
    return [] if any_face(photo, DOMAIN_MIN_FRACTION, DOMAIN_NEIGHBOURS) else [NOT_A_CAT]


def any_face(photo: Any, min_fraction: float = 0.08, neighbours: int = 3) -> bool:
    """``bool(detections(photo, min_fraction, neighbours))``, but it stops at the first box (upright, smallest working
    size first; the tilted searches only when no upright box): the domain check's answer without the whole search
    (0.55 of a one-photo CLI inversion's 8 s, one thread, before)."""
    img = imaging.load_image(photo)
    return any(found for tilt in (0.0, *TILTS) for found in _search_sizes(img, min_fraction, tilt, neighbours))


def centre_crop(photo: Any) -> FaceCrop:
    """The centre square of ``photo`` (``found`` False): what is used when no face is looked for or found."""
    img = imaging.load_image(photo)
    side = min(img.size)
    return FaceCrop(img, ((img.width - side) // 2, (img.height - side) // 2, side), False)


def crop_at(photo: Any, box: Any) -> FaceCrop:
    """The crop a user chose: ``box`` (left, top, side) in the photo's pixels, or "left, top, side" text; the square
    must overlap the photo and be at least 8 px (it may reach past the edges, filled by edge replication)."""
    img = imaging.load_image(photo)
    if isinstance(box, str):
        parts = [p for p in box.replace(";", ",").split(",") if p.strip()]
        try:
            box = tuple(int(round(float(p))) for p in parts)
        except ValueError:
            box = ()
    if len(box) != 3:
        raise LatentStudioError(f"A face box is three numbers, left, top, side (in the photo's pixels), got {box!r}.")
    left, top, side = (int(v) for v in box)
    if side < 8 or left >= img.width or top >= img.height or left + side <= 0 or top + side <= 0:
        raise LatentStudioError(f"The face box (left {left}, top {top}, side {side}) must be at least 8 px and overlap "
                                f"the {img.width}×{img.height} photo.")
    return FaceCrop(img, (left, top, side), True)


def draw_box(crop: FaceCrop, width: int = 0) -> Image.Image:
    """The photo with the crop's square drawn on it: red for a face, yellow for the centre square (no face)."""
    out = crop.photo.copy()
    left, top, side = crop.box
    line = width or max(2, round(min(out.size) / 100))
    ImageDraw.Draw(out).rectangle([left, top, left + side - 1, top + side - 1], width=line,
                                  outline=(230, 40, 40) if crop.found else (240, 200, 0))
    return out


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
