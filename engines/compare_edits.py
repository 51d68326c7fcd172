"""GAN vs diffusion on one photo's edit: the GAN's direction (invert, then move along e.g. `grumpy`) beside the
diffusion model's class translation (DDIM inversion under "cat", regeneration under e.g. "grumpy cat").

Both engines get the same square (the face finder's crop, or the centre square) and are measured alike: PSNR and
SSIM to the photo (faithfulness), the layout kept (SSIM of blurred greyscale, `evaluation.layout`), the distance to
real photos of the target in the GAN discriminator's features where the GAN's folder holds such a reference
(``grumpy_features.npz``, by ``python -m bench.translate --write-reference``; 1 ≈ a typical Grumpy-Cat photo, the input
photo's own distance shown beside), whether OpenCV's detector still finds a cat face, and seconds. The CLI's
``compare --edit`` and the app's "GAN vs Diffusion" tab run `compare_edits`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Optional

from PIL import Image

from . import faces, imaging
from .evaluation import cat_faces
from .evaluation.faithfulness import reconstruction
from .evaluation.layout import layout_ssim
from .evaluation.photo_distance import PhotoDistance

#: a GAN direction → the diffusion class it means, and the file of target-photo features in the GAN's folder
TARGETS = {"grumpy": ("grumpy cat", "grumpy_features.npz")}


@dataclass
class EditRun:
    """One engine's edit of the photo and how it measures against it."""
    name: str
    image: Image.Image
    psnr: float
    ssim: float
    layout_ssim: float
    cat_face: float
    seconds: float
    target_distance: Optional[float] = None
    options: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"psnr": self.psnr, "ssim": self.ssim, "layout_ssim": self.layout_ssim,
                "target_distance": self.target_distance, "cat_face_confidence": self.cat_face,
                "holds_cat_face": self.cat_face >= cat_faces.MIN_CONFIDENCE, "seconds": self.seconds,
                "options": self.options}


def target_distance(gan: Any, direction: str) -> Optional[PhotoDistance]:
    """Distance to real photos of the direction's target in ``gan``'s discriminator features, where its folder holds
    a reference made for these weights; None otherwise (no figure rather than a misleading one)."""
    from .stylegan.inversion import load_photo_distance
    name = TARGETS.get(direction, (None, None))[1]
    if name is None:
        return None
    return load_photo_distance(getattr(gan.bundle, "folder", None), gan.bundle.D, gan.fingerprint, gan.device, name)


def _measure(name: str, image: Image.Image, photo: Image.Image, seconds: float, yardstick: Optional[PhotoDistance],
             options: dict) -> EditRun:
    x = imaging.to_tensor(image)
    y = imaging.to_tensor(photo.resize(image.size, Image.LANCZOS))
    rec = reconstruction(x, y)
    return EditRun(name, image, rec["psnr"][0], rec["ssim"][0], layout_ssim(x, y)[0],
                   float(cat_faces.confidence(x)[0]), seconds,
                   float(yardstick.distance(x)[0]) if yardstick is not None else None, options)


def compare_edits(gan: Any, diffusion: Any, photo: Any, *, direction: str = "grumpy", gan_strength: float = 4.0,
                  target_class: Optional[str] = None, face: bool = False,
                  invert_steps: int = 75, **translate_options: Any) -> tuple[Image.Image, list[EditRun], Optional[float]]:
    """(the square both engines saw, [GAN run, diffusion run], the photo's own distance to the target's photos or
    None). ``gan_strength``: multiples of the direction's unit step (the Edit tab's default for `grumpy` is 4);
    ``target_class`` None: what ``direction`` means
    (`TARGETS`), else the diffusion model's second class; ``translate_options``: `TranslateOptions` fields."""
    image = imaging.load_image(photo)
    square = faces.crop_face(image, centre_if_none=True).image if face else image
    square = imaging.center_crop_resize(square, max(gan.resolution, diffusion.resolution))
    yardstick = target_distance(gan, direction)
    target = target_class or TARGETS.get(direction, (None,))[0]
    t0 = time.perf_counter()
    edit = gan.edit(square, direction, [gan_strength], invert_options={"steps": invert_steps})
    gan_run = _measure("GAN", edit.images[-1], square, time.perf_counter() - t0, yardstick,
                       {"direction": direction, "strength": gan_strength, "invert_steps": invert_steps})
    t0 = time.perf_counter()
    translated = diffusion.translate(square, class_name=target, **translate_options)
    diff_run = _measure("Diffusion", translated.images[1], square, time.perf_counter() - t0, yardstick,
                        {k: translated.options[k] for k in ("source_class", "class_name", "strength", "guidance",
                                                            "steps", "refine")})
    own = float(yardstick.distance(imaging.to_tensor(square.resize((gan.resolution,) * 2, Image.LANCZOS)))[0]) \
        if yardstick is not None else None
    return square, [gan_run, diff_run], own


def table(runs: list[EditRun], own: Optional[float]) -> str:
    """A markdown table of the runs (the photo's own target distance in the header)."""
    head = ("| engine | PSNR to the photo | SSIM | layout kept (blurred SSIM) | distance to target photos"
            + (f" (the photo: {own:.2f})" if own is not None else "") + " | cat face | seconds |\n"
            "|---|---|---|---|---|---|---|")
    rows = [f"| {r.name} | {r.psnr:.1f} dB | {r.ssim:.2f} | {r.layout_ssim:.2f} | "
            f"{'–' if r.target_distance is None else f'{r.target_distance:.2f}'} | "
            f"{'yes' if r.cat_face >= cat_faces.MIN_CONFIDENCE else 'no'} ({r.cat_face:.1f}) | {r.seconds:.1f} |"
            for r in runs]
    return "\n".join([head, *rows])
