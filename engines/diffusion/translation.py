"""Class translation at the engine level: a photo in, the same cat as another class out (`DiffusionEngine.translate`);
on Stable Diffusion the classes are prompts (prompt → prompt, `sd_translate`).

DDIB (Su et al. 2022) on one class-conditional model: DDIM-invert the photo under its own class to a chosen depth,
then run DDIM back under the target class. Guidance steers from the source class toward the target (the source's
prediction stands in for the null class's, negative-prompt inversion in class form), so with target = source the
photo comes back (the round trip). Here the photo becomes the model's input (the face finder's crop with ``face``,
else the centre square), the backend runs diffusers, and the result is measured against the input: PSNR / SSIM, the
layout kept (SSIM of blurred greyscale), the cat-face detector and patch realism.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Optional, Protocol, TypeVar

from .. import faces, imaging
from ..base import LatentStudioError, ProgressCallback, Result
from ..evaluation import cat_faces
from ..evaluation.faithfulness import reconstruction
from ..evaluation.layout import layout_ssim
from ..evaluation.realism import PatchRealism
from .backend import Backend
from .options import TranslateOptions

T = TypeVar("T")


class DiffusionView(Protocol):
    """What a translation needs of `engine.DiffusionEngine`: it takes the engine as this and never imports the
    engine module (the engine calls it; it calls back only into what is written here)."""
    source: Any
    device: Any

    @property
    def kind(self) -> str: ...

    @property
    def resolution(self) -> int: ...

    @property
    def classes(self) -> list[str]: ...

    def run_backend(self, work: Callable[[Backend], T]) -> T:
        """``work(backend)`` while the engine runs no other job (pipelines and schedulers are stateful)."""
        ...


def resolve_classes(classes: list[str], opts: TranslateOptions, text: bool = False) -> TranslateOptions:
    """``opts`` with the source (default: the first class) and target (default: the first other class) named and
    known to the model, or a `LatentStudioError` that lists its classes. ``text`` (Stable Diffusion): the classes are
    prompts — the target must be given, the source defaults to the empty prompt."""
    if text:
        if not opts.class_name:
            raise LatentStudioError("Stable Diffusion translates prompt → prompt: give the target prompt as the "
                                    "target class (e.g. 'a photo of a grumpy cat') and the photo's as the source.")
        return TranslateOptions(**{**opts.as_dict(), "source_class": opts.source_class or ""})
    if not classes:
        raise LatentStudioError("Class translation needs a class-conditional model; this one has no classes.")
    source = opts.source_class if opts.source_class is not None else classes[0]
    target = opts.class_name if opts.class_name is not None else next((c for c in classes if c != source), source)
    for what, name in (("source class", source), ("target class", target)):
        if name not in classes:
            raise LatentStudioError(f"Unknown {what} {name!r}: this model knows {', '.join(map(repr, classes))}.")
    return TranslateOptions(**{**opts.as_dict(), "source_class": source, "class_name": target})


def translate(engine: DiffusionView, photo: Any, *, face: bool = False, progress: Optional[ProgressCallback] = None,
              **options: Any) -> Result:
    """``photo`` (path, PIL, array) translated to ``class_name`` (`TranslateOptions`). ``face``: find the cat face,
    translate that crop and paste it back into the photo. Result: images [input at the model's size, result] (with
    ``face``: [photo, photo with the result pasted in]); metrics (each a one-item list): psnr, ssim, layout_ssim
    against the input, cat_face / holds_face, realism, warnings; options: every choice plus the steps and the start
    timestep that ran."""
    start = time.perf_counter()
    unknown = sorted(set(options) - set(TranslateOptions.limits()))
    if unknown:
        raise LatentStudioError(f"Unknown translate option(s) {unknown}; known: {sorted(TranslateOptions.limits())}.")
    opts = resolve_classes(engine.classes, TranslateOptions(**options).check(), text=engine.kind == "stable-diffusion")
    if photo is None:
        raise LatentStudioError("Translate needs a photo.")
    image = imaging.load_image(photo)
    crop = faces.crop_face(image, centre_if_none=True) if face else None
    warnings = [faces.CENTRE_USED] if crop is not None and not crop.found else []
    if crop is None or not crop.found:
        warnings += faces.domain_warnings(image)
    source = imaging.center_crop_resize(crop.image if crop is not None else image, engine.resolution)
    prepared = time.perf_counter()
    run = engine.run_backend(lambda backend: backend.translate(source, opts, progress))
    done = time.perf_counter()
    x, y = imaging.to_tensor(run.images), imaging.to_tensor(source)
    metrics: dict[str, Any] = {**reconstruction(x, y), "layout_ssim": layout_ssim(x, y)}
    realism = PatchRealism.default()
    if realism is not None:
        metrics["realism"] = realism.score(x).tolist()
    face_conf = cat_faces.confidence(x)
    metrics.update(cat_face=face_conf.tolist(), holds_face=(face_conf >= cat_faces.MIN_CONFIDENCE).tolist(),
                   warnings=warnings)
    images = [source, run.images[0]]
    if crop is not None:
        images = [image, faces.paste_back(crop, run.images[0])]
    options_out = {**opts.as_dict(), **run.info, "face": face, "face_box": list(crop.box) if crop is not None else None,
                   "face_found": bool(crop.found) if crop is not None else None, "model": str(engine.source),
                   "kind": engine.kind, "resolution": engine.resolution, "device": str(engine.device)}
    timings = {"prepare": prepared - start, "translate": done - prepared, "total": time.perf_counter() - start}
    return Result(images=images, metrics=metrics, timings=timings, options=options_out)
