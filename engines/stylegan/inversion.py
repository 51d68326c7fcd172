"""Inversion at the engine level: photos and sketches (as tensors) in, a reported `Result` out; pivotal tuning.

The algorithm is the core's `projector.project`; here the engine's services feed it (the encoder's start, the mean
w, the model's discriminator for the perceptual term) and its outcome is reported: of a scribble's restarts the
one most like a cat (`restart_score`), reconstruction or masked-L2 figures, cat face, patch realism, the distance to
real photos, the perceptual distance and the distance from the mean latent. `invert` adds the photo side (face
crops, domain warnings) and, with ``pti_steps``, pivotal tuning (`pti.pivotal_tuning`) of a generator copy per
photo (`tune`). `GanEngine.project` / ``invert`` / ``tuned_for`` are these functions on the engine.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from ..base import LatentStudioError, ProgressCallback, Result, as_list
from .. import faces, imaging
from ..evaluation import cat_faces
from ..evaluation.faithfulness import reconstruction
from ..evaluation.photo_distance import FILE_NAME as PHOTO_FEATURES, PhotoDistance
from ..evaluation.realism import PatchRealism
from .options import SCRIBBLE_DEFAULTS, SCRIBBLE_NOISE_FROM, PhotoOptions, ProjectionConfig
from . import projector
from .projector import LossCallback, pick
from .pti import pivotal_tuning
from .view import GanView

RESTART_LOSS_TOLERANCE = 0.25  # a scribble's restart may lose this much (relative) loss for more realism


def restart_score(images: torch.Tensor, realism: Optional[PatchRealism]) -> torch.Tensor:
    """How much each image [N, 3, R, R] looks like a cat photo, to rank a scribble's restarts: the cat-face
    detector's confidence (0 without a face, ≥ 1 a face; `evaluation.cat_faces`) plus the patch realism in [0, 1]
    (which breaks ties between restarts without a face)."""
    score = cat_faces.confidence(images)
    if realism is not None:
        score = score + realism.score(images)
    return score


def default_init(engine: GanView, space: str) -> str:
    """How an inversion starts unless told: from the encoder's output where the model has one (w / w+)."""
    return "encoder" if space in ("w", "w+") and engine.encoder is not None else "mean"


def default_optimize_noise(G: Any, optimizer: str) -> bool:
    """Whether an inversion also fits the noise maps unless told: yes for StyleGAN2 with Adam (they carry the
    fine detail, stripes and pupils, that the latent cannot: `bench.encoder`); DCGAN has none, and L-BFGS's
    curvature model does not survive the maps' renormalisation after every step."""
    return G.arch == "stylegan2" and optimizer == "adam"


def _noise_default(G: Any, options: dict) -> dict:
    """``options`` with ``optimize_noise`` filled in by `default_optimize_noise` when the caller left it unset."""
    if options.get("optimize_noise") is None:
        optimizer = options.get("optimizer") or ProjectionConfig.optimizer
        options = {**options, "optimize_noise": default_optimize_noise(G, optimizer)}
    return options


def invert_config(engine: GanView, options: dict[str, Any]) -> ProjectionConfig:
    """An inversion's `ProjectionConfig` from `ProjectionConfig` fields, unset start and noise fitting filled in."""
    if options.get("init") is None:
        options = {**options, "init": default_init(engine, options.get("space") or ProjectionConfig.space)}
    return ProjectionConfig.from_options(**_noise_default(engine.G, options))


def scribble_config(engine: GanView, options: dict[str, Any]) -> ProjectionConfig:
    """A scribble's `ProjectionConfig`: `SCRIBBLE_DEFAULTS` under the given fields (None = unset); the noise maps are
    fitted (as for an inversion) only when the lines are to be followed closely (``follow_lines`` ≥
    `SCRIBBLE_NOISE_FROM`)."""
    options = {**SCRIBBLE_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    if options.get("optimize_noise") is None:
        follow = ProjectionConfig.limit("follow_lines").check(options["follow_lines"])
        options = (_noise_default(engine.G, options) if follow >= SCRIBBLE_NOISE_FROM
                   else {**options, "optimize_noise": False})
    return ProjectionConfig.from_options(**options)


def sketch_target(sketch: Any, mask: Any, resolution: int, *, dilate: int = 0,
                  device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """A sketch → (target [1, C, R, R], mask [1, 1, R, R]) at ``resolution``: ``mask`` (white = strokes) or, when
    None, the sketch's own strokes (its alpha, or its non-background pixels, grown by ``dilate`` pixels)."""
    res = resolution
    if mask is None:
        m = imaging.mask_from_scribble(sketch, dilate=dilate)
        m = np.asarray(Image.fromarray((m * 255).astype(np.uint8)).resize((res, res), Image.BILINEAR)) / 255.0
        m = (m > 0.5).astype(np.float32) if m.max() > 0 else m
    else:
        m = imaging.load_mask(mask, size=res)
    imaging.check_mask(m)
    target = imaging.to_tensor(imaging.load_image(sketch).resize((res, res), Image.LANCZOS), device=device)
    return target, torch.as_tensor(np.asarray(m, dtype=np.float32), device=device)[None, None]


def load_photo_distance(folder: Optional[Path], D: Any, fingerprint: str,
                        device: torch.device | str, name: str = PHOTO_FEATURES) -> Optional[PhotoDistance]:
    """The distance to real photos in ``D``'s features from ``folder/name`` (the held-out cat photos'
    ``photo_features.npz``, or another set's, e.g. Grumpy Cat's), when that reference was made this way for these
    weights (``fingerprint``); None otherwise (no figure rather than a misleading one)."""
    path = folder / name if folder is not None else None
    if path is None or not path.is_file() or D is None:
        return None
    D = D.eval().requires_grad_(False)
    try:
        found = PhotoDistance.load(path, lambda x: D.features(x.to(device)))
    except LatentStudioError:  # made another way
        return None
    return found if found.fingerprint == fingerprint else None  # else made for other weights


@torch.no_grad()
def latent_distance(engine: GanView, latent: torch.Tensor, space: str) -> torch.Tensor:
    """RMS distance from the mean latent [N], relative to that of random samples in w (≈1 = typical)."""
    if space == "z":
        return latent.flatten(1).square().mean(dim=1).sqrt()
    rows = latent if latent.ndim == 3 else latent.unsqueeze(1)
    return (rows - engine.mean_w()).norm(dim=-1).mean(dim=1) / engine.typical_w_distance()


def project(engine: GanView, targets: torch.Tensor, mask: Optional[torch.Tensor], config: ProjectionConfig, *,
            seed: int = 0, progress: Optional[ProgressCallback] = None,
            on_loss: Optional[LossCallback] = None) -> Result:
    """`projector.project` on tensors (targets [N, C, R, R], mask [1|N, 1, R, R] or None), reported as a `Result`."""
    config = config.validate(engine.spaces)
    start, encode_seconds = None, 0.0
    if config.init == "encoder":
        if engine.encoder is None:
            raise LatentStudioError("This model has no encoder (no encoder/ in its folder): train one with "
                                    "`python -m engines train-encoder`, or start from 'mean'.")
        t0 = time.perf_counter()
        with torch.no_grad():
            start = engine.encoder.encode(targets, config.space)
        encode_seconds = time.perf_counter() - t0
    proj = projector.project(engine.G, targets, mask, config=config, seed=seed,
                             w_avg=engine.mean_w() if config.space != "z" else None, D=engine.bundle.D,
                             progress=imaging.pil_progress(progress), on_loss=on_loss, start=start)
    perceptual = proj.perceptual
    realism = PatchRealism.default()
    picked_by = "loss"
    if mask is not None and len(proj.candidates) > 1:
        # a scribble: of the restarts that match the strokes about as well, keep the one most like a cat face
        best = pick(proj.candidates, torch.stack([restart_score(c.images, realism) for c in proj.candidates]),
                    RESTART_LOSS_TOLERANCE)
        proj.latent, proj.noise, proj.images, proj.loss = best.latent, best.noise, best.images, best.loss
        picked_by = (f"cat-face confidence + patch realism, among restarts within {RESTART_LOSS_TOLERANCE:.0%} "
                     "of the lowest loss")
    metrics: dict[str, Any] = reconstruction(proj.images, targets, mask)
    if mask is not None:
        face = cat_faces.confidence(proj.images)
        metrics.update(cat_face=face.tolist(), holds_face=(face >= cat_faces.MIN_CONFIDENCE).tolist())
    if realism is not None:
        metrics["realism"] = realism.score(proj.images).tolist()
    yardstick = engine.photo_distance()
    if yardstick is not None:
        metrics["photo_distance"] = yardstick.distance(proj.images).tolist()
    if perceptual is not None:
        with torch.no_grad():
            metrics["perceptual"] = perceptual(proj.images, targets, mask).tolist()
    metrics.update(latent_distance=latent_distance(engine, proj.latent, config.space).tolist(),
                   loss=proj.loss.tolist(), loss_curve=proj.best_curve, loss_curves=proj.curves,
                   perceptual_net=perceptual.name if perceptual is not None else "none",
                   steps=config.steps, restarts=config.restarts, stopped_nonfinite=proj.stopped_nonfinite)
    return Result(images=imaging.to_pil(proj.images), frames=[imaging.to_pil(f)[0] for f in proj.frames],
                  latents=engine.latent_record(proj.latent, config.space, proj.noise or None), metrics=metrics,
                  timings={"total": proj.seconds + encode_seconds, "encoder": encode_seconds,
                           "per_step_ms": 1000 * proj.seconds / max(1, proj.steps_run)},
                  options={**config.as_dict(), "seed": seed, "masked": mask is not None, "restart_picked_by": picked_by})


def tune(engine: GanView, image: Any, pivot: torch.Tensor, space: str, *, steps: int = 200,
         progress: Optional[ProgressCallback] = None,
         noise: Optional[dict[str, torch.Tensor]] = None) -> tuple[Any, list[float]]:
    """(a copy of the engine's generator pivotally tuned so that ``pivot`` [1, …] renders ``image`` (a photo, or its
    target [1, C, R, R]), the loss per step); ``noise``: the pivot's own noise maps (an inversion's), which the copy
    then renders as its constant noise."""
    PhotoOptions.limit("pti_steps").check(steps)
    if steps < 1:
        raise LatentStudioError("PTI steps must be at least 1 to tune.")
    target = image if isinstance(image, torch.Tensor) else engine.targets([image])
    report = (lambda s, t: progress(s, t, None)) if progress is not None else None
    noise = {k: v[:1].to(engine.device) for k, v in noise.items()} if noise else None
    return pivotal_tuning(engine.G, pivot[:1].to(engine.device), space, target[:1], steps=steps, noise=noise,
                          progress=report)


#: Figures of the images an inversion reports; after pivotal tuning they are the tuned images' and the pivot's move to
#: ``metrics["pivot"]`` (the perceptual distance, measured by the projection's own network, stays there only). The
#: optimisation's own figures (loss, loss_curve, latent_distance: the latent does not change in tuning) stay as they are.
PIVOT_FIGURES = ("psnr", "ssim", "l2", "realism", "photo_distance", "perceptual")


def invert(engine: GanView, images: Any, config: ProjectionConfig, *, seed: int = 0, face: bool = False,
           pti_steps: int = 0, progress: Optional[ProgressCallback] = None,
           on_loss: Optional[LossCallback] = None) -> Result:
    """Project photos into a latent space; one optimisation for the whole batch, each image keeps its own best.

    ``config`` (`invert_config`: space w+, Adam, 300 steps, L2 + 0.1 · perceptual by default; the start is the
    model's encoder output where it has one, `default_init`); ``on_loss(step, loss)`` after every step feeds a live
    loss curve. ``face``: find each photo's cat face and invert it framed like the training photos
    (`faces.crop_face`; a photo without one: its centre square); the crop boxes are in ``options["face_boxes"]``
    for `faces.paste_back` (``options["face_found"]``: whether each was a face). ``metrics["warnings"]``: per image
    what to tell the user (`faces.domain_warnings`: no cat face at all; the centre square used), empty when all is
    well. ``pti_steps`` > 0: then tune a copy of the generator around each pivot (`GanEngine.tuned_for`) for that
    many steps; the images and their figures are the tuned ones (``metrics["pivot"]``: the same figures before
    tuning, `PIVOT_FIGURES`; ``metrics["psnr_pivot"]`` its PSNR)."""
    pti_steps = PhotoOptions.limit("pti_steps").check(pti_steps)
    crops = [faces.crop_face(img, centre_if_none=True) for img in as_list(images)] if face else None
    photos = [c.image for c in crops] if crops else as_list(images)
    targets = engine.targets(photos)
    # the domain check: a photo with no cat face is answered, but with a warning (a face crop found has one)
    told = [[faces.CENTRE_USED, *faces.domain_warnings(c.photo)] if not c.found else [] for c in crops] \
        if crops else [faces.domain_warnings(img) for img in as_list(images)]
    result = project(engine, targets, None, config, seed=seed, progress=progress, on_loss=on_loss)
    result.metrics["warnings"] = told
    if crops:
        result.options["face_boxes"] = [list(c.box) for c in crops]
        result.options["face_found"] = [c.found for c in crops]
    if pti_steps:
        start = time.perf_counter()
        latents, _, noise = engine.read_latent(result.latents)
        tuned = [engine.tuned_for(targets[i:i + 1], latents[i:i + 1], config.space, steps=pti_steps,
                                  progress=progress, noise={k: v[i:i + 1] for k, v in (noise or {}).items()})
                 for i in range(len(photos))]
        with torch.no_grad():
            tuned_images = torch.cat([t.G.synthesize(latents[i:i + 1], config.space) for i, t in enumerate(tuned)])
        # every figure of the images is the tuned ones'; the pivot's (before tuning) move under "pivot", so that no
        # file or page shows a before and an after figure side by side as if they were one result's
        pivot = {k: result.metrics.pop(k) for k in PIVOT_FIGURES if k in result.metrics}
        result.metrics["pivot"] = pivot
        result.metrics["psnr_pivot"] = pivot["psnr"]
        result.metrics.update(reconstruction(tuned_images, targets))
        realism = PatchRealism.default()
        if realism is not None:
            result.metrics["realism"] = realism.score(tuned_images).tolist()
        yardstick = engine.photo_distance()
        if yardstick is not None:
            result.metrics["photo_distance"] = yardstick.distance(tuned_images).tolist()
        result.images = imaging.to_pil(tuned_images)
        result.timings["pti"] = time.perf_counter() - start
        result.timings["total"] += result.timings["pti"]
        result.options["pti_steps"] = pti_steps
    return result


def scribble(engine: GanView, sketch: Any, mask: Any, config: ProjectionConfig, *, seed: int = 0, dilate: int = 0,
             progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None) -> Result:
    """A realistic image that agrees with a colour scribble where it has strokes.

    The mask comes from ``mask`` (an image/array: white = strokes) or else from the sketch itself (its alpha, or its
    non-background pixels; `sketch_target`). ``config`` (`scribble_config`) differs from an inversion's
    (`SCRIBBLE_DEFAULTS`): the strokes' 16×16 colour layout is matched (``follow_lines`` 0; 1 = every pixel, the old
    behaviour, with the noise maps), no perceptual term and a pull toward the mean latent so the result stays a
    plausible cat; of several restarts the one most like a cat is kept (`restart_score`)."""
    target, mask_t = sketch_target(sketch, mask, engine.resolution, dilate=dilate, device=engine.device)
    result = project(engine, target, mask_t, config, seed=seed, progress=progress, on_loss=on_loss)
    result.options["dilate"] = dilate
    return result
