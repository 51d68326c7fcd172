"""Edits at the engine level: move a latent (or a photo, inverted first) along a direction, one image per strength.

Finding directions lives in `directions` (core) and reading direction files in `direction_files` (its names are
re-exported here, their old home); this module is what the CLI ``edit`` command, the engine's ``edit`` and the UI
use to turn a direction into edited images, and to find a direction from example images (inverted first). A photo
is made ready once (`prepare_photo`: inversion, face crop, pivotal tuning) and kept in the model's cache, so editing
it again along another direction or strength does not repeat the inversion.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from ..base import LatentStudioError, ProgressCallback, Result, Timer, as_list, check_range
from .. import faces, imaging
from ..evaluation.faithfulness import reconstruction
from ..evaluation.realism import PatchRealism
from .direction_files import ganspace_edit, load_direction, named_directions, save_direction  # noqa: F401 (old home)
from .directions import Direction, apply, edit_space, example_points, from_examples, own_rows, parse_layers
from .latents import is_latent_source
from .options import EditOptions
from .view import GanView

# ----------------------------------------------------------------------------------------------
# Directions from example images (inverted with the engine)

def example_latents(engine: GanView, items: Sequence[Any], invert_options: Optional[dict] = None, *,
                    progress: Optional[ProgressCallback] = None) -> torch.Tensor:
    """Latent files (``.npz``/records, every row used) and images (inverted in one batch) → points [N, dim]."""
    space = edit_space(engine.G)
    points, images = [], []
    for item in as_list(items):
        if is_latent_source(item):
            latent, sp, _ = engine.read_latent(item, with_noise=False)
            with torch.no_grad():
                if sp == "z" and space == "w":
                    latent = engine.G.mapping(latent)
            points.append(example_points(latent.cpu(), "example"))
        else:
            images.append(item)
    if images:
        # directions live in the latent alone: no noise maps for the examples
        options = {"optimize_noise": False, **(invert_options or {})}
        points.append(example_points(_invert(engine, images, space, options, progress)[0].cpu(), "inverted"))
    if not points:
        raise LatentStudioError("No examples given.")
    return torch.cat(points)


def from_example_images(engine: GanView, pos_images: Sequence[Any], neg_images: Sequence[Any], name: str,
                        invert_options: Optional[dict] = None, *,
                        progress: Optional[ProgressCallback] = None) -> Direction:
    """`from_examples` on images (inverted into w; z for DCGAN) or latent files of this model."""
    pos = example_latents(engine, pos_images, invert_options, progress=progress)
    neg = example_latents(engine, neg_images, invert_options, progress=progress)
    return from_examples(pos, neg, name, space=edit_space(engine.G), fingerprint=engine.fingerprint)


def _invert(engine: GanView, images: list, space: str, options: Optional[dict],
            progress: Optional[ProgressCallback] = None) -> tuple[torch.Tensor, str, Optional[dict]]:
    """Images → (latents, their space, the noise maps the inversion optimised or None)."""
    result = engine.invert(images, space=space, progress=progress, **(options or {}))
    return engine.read_latent(result.latents)


PHOTO_CACHE_SIZE = 4  # photos whose inversion (and tuned generator) Edit keeps per loaded model
#: the tuned generators among them may hold at most this many bytes of weights together (the newest is always kept):
#: four tuned copies of a 1024 px pickle would hold 480 MB beside the model, of our 64 px one 1.5 MB each
TUNED_CACHE_BYTES = 256 * 2 ** 20


def _weights_bytes(engine: GanView) -> int:
    return sum(p.numel() * p.element_size() for p in engine.G.parameters())


def _evict(cache: "OrderedDict[Any, PreparedPhoto]", base: GanView) -> None:
    """Drop the least recently used photos beyond `PHOTO_CACHE_SIZE`, then tuned ones (oldest first, never the
    newest entry) while the tuned generators hold more than `TUNED_CACHE_BYTES`."""
    while len(cache) > PHOTO_CACHE_SIZE:
        cache.popitem(last=False)
    tuned = [k for k, v in cache.items() if v.engine is not base]
    while len(tuned) > 1 and sum(_weights_bytes(cache[k].engine) for k in tuned) > TUNED_CACHE_BYTES:
        del cache[tuned.pop(0)]


@dataclass
class PreparedPhoto:
    """A photo made ready to edit: its inverted latent [1, …] and space, the noise maps the inversion fitted (None:
    the model's own), the face crop (None: the whole photo), the engine to render with (a PTI-tuned copy when asked),
    the target the model saw [1, C, R, R] and what to tell the user about the photo (`faces.domain_warnings`)."""
    latent: torch.Tensor
    space: str
    noise: Optional[dict]
    crop: Optional[faces.FaceCrop]
    engine: GanView
    target: torch.Tensor
    warnings: list[str]


def prepare_photo(engine: GanView, src: Any, invert_options: Optional[dict], face: bool, pti_steps: int,
                  progress: Optional[ProgressCallback] = None) -> tuple[PreparedPhoto, bool]:
    """A photo made ready to edit (`PreparedPhoto`) and whether it came from the cache: editing the same photo again
    along another direction or strength reuses the inversion instead of repeating it (kept in the model's
    `view.ModelCache`, shared by its class views; the key holds the class)."""
    image = imaging.load_image(src)
    key = (hashlib.sha256(image.tobytes()).hexdigest(), image.size, engine.fingerprint, engine.class_index,
           json.dumps(invert_options or {}, sort_keys=True, default=str), bool(face), int(pti_steps))
    cache, lock = engine.cache.photo_inversions, engine.cache.photo_lock
    with lock:
        if key in cache:
            cache.move_to_end(key)
            return cache[key], True
    base = engine
    space = "w+" if edit_space(engine.G) == "w" else "z"
    crop = faces.crop_face(image, centre_if_none=True) if face else None
    photo = crop.image if crop is not None else image
    told = [faces.CENTRE_USED] if crop is not None and not crop.found else []
    if crop is None or not crop.found:
        told += faces.domain_warnings(image)
    latent, space, noise = _invert(engine, [photo], space, invert_options, progress)
    target = imaging.to_tensor(imaging.center_crop_resize(photo, engine.resolution))
    if pti_steps:  # edits then go through a generator tuned to this photo (keeps its identity)
        engine = engine.tuned_for(photo, latent[:1], space, steps=pti_steps, progress=progress, noise=noise)
        noise = None
    prepared = PreparedPhoto(latent, space, noise, crop, engine, target, told)
    with lock:  # the inversion ran unlocked: two jobs on one photo may both run it, the later one is kept
        cache[key] = prepared
        _evict(cache, base)
    return prepared, False


# ----------------------------------------------------------------------------------------------
# Editing

@torch.no_grad()
def to_edit_latent(engine: GanView, latent: torch.Tensor, space: str) -> tuple[torch.Tensor, str]:
    """Any latent of ``engine`` → the latent edits act on: w+ for StyleGAN2, z for DCGAN."""
    if edit_space(engine.G) == "z":
        return latent, "z"
    return engine.G.to_wplus(latent.to(engine.device), space), "w+"


def edit(engine: GanView, latent_src: Any, direction: Any, strengths: Sequence[float], layers: Any = None,
         condition: Any = None, *, invert_options: Optional[dict] = None, face: bool = False, pti_steps: int = 0,
         progress: Optional[ProgressCallback] = None) -> Result:
    """Images of the first latent of ``latent_src`` (latent file/record, or an image to invert) moved per strength.

    ``layers`` (a `directions.parse_layers` range; ``"a-b"`` includes b) replaces the direction's own rows
    (GANSpace named edits); None keeps them, or edits all rows. Strengths are multiples of the direction's
    unit step (``meta["scale"]``: GANSpace standard deviations).
    ``metrics["pixel_change"]`` is the mean absolute change (8-bit levels) against strength 0, per strength.
    ``face`` (an image source): find the cat face, edit that crop and paste each result back into the photo.
    ``pti_steps`` (an image source): tune a copy of the generator to the photo first (pivotal tuning).
    """
    timer = Timer()
    direction = load_direction(direction, engine)
    conds = [load_direction(c, engine) for c in as_list(condition)] if condition is not None else None
    strengths = [float(s) for s in as_list(strengths)]
    if not strengths:
        raise LatentStudioError("Give at least one strength.")
    limit = EditOptions.limit("strength")
    for s in strengths:
        check_range(limit.label, s, -limit.max, limit.max)
    if layers is not None and edit_space(engine.G) == "z":
        raise LatentStudioError(f"{engine.arch} has no w+ layers; leave the layer range out.")
    if layers is not None:  # an explicit range (even "all") replaces the direction's own rows
        span = parse_layers(layers, engine.G.num_ws)
        rows = span or "all"
    else:                   # the direction's own rows (GANSpace named edits), else all
        span = own_rows(direction, engine.G.num_ws) if edit_space(engine.G) == "w" else None
        rows = span
    crop, prepared = None, None
    with timer("load"):
        if is_latent_source(latent_src):
            latent, space, noise = engine.read_latent(latent_src)
            source = "latent"
        else:
            prepared, reused = prepare_photo(engine, latent_src, invert_options, face, pti_steps, progress)
            latent, space, noise, crop, engine = (prepared.latent, prepared.space, prepared.noise, prepared.crop,
                                                  prepared.engine)
            source = "image (inversion reused)" if reused else "image"
        latent, space = to_edit_latent(engine, latent[:1], space)
        noise = {k: v[:1] for k, v in noise.items()} if noise else None  # the photo's fine detail stays put
    with timer("render"):
        base = np.asarray(engine.synthesize(latent, space, noise)[0], dtype=np.float32)
        edited = torch.cat([apply(latent, direction, s, rows, conds) for s in strengths])
        # one at a time, like the original: batched kernels may differ in the last bit, and strength 0 should not
        images = [engine.synthesize(e[None], space, noise)[0] for e in edited]
    change = [float(np.abs(np.asarray(im, dtype=np.float32) - base).mean()) for im in images]
    metrics: dict[str, Any] = {"strengths": strengths, "pixel_change": change}
    if prepared is not None:  # how well the photo was rebuilt, before any edit: the edits are only as good as that
        rebuilt = imaging.to_tensor(Image.fromarray(base.round().clip(0, 255).astype(np.uint8)))
        figures = reconstruction(rebuilt, prepared.target)
        realism = PatchRealism.default()
        metrics["rebuild"] = {"psnr": figures["psnr"][0], "ssim": figures["ssim"][0],
                              "realism": float(realism.score(rebuilt)[0]) if realism is not None else None,
                              "warnings": list(prepared.warnings)}
    if crop is not None:  # the edited face back in the photo
        images = [faces.paste_back(crop, im) for im in images]
    noise_rows = {k: v.expand(len(strengths), -1, -1, -1) for k, v in noise.items()} if noise else None
    return Result(images=images, latents=engine.latent_record(edited, space, noise_rows),
                  metrics=metrics, timings=timer.timings,
                  options={"direction": direction.name, "method": direction.method, "space": direction.space,
                           "strengths": strengths, "layers": list(span) if span else "all",
                           "condition": [c.name for c in conds] if conds else None, "source": source,
                           "face_box": list(crop.box) if crop is not None else None, "pti_steps": pti_steps,
                           "invert_options": invert_options or {}})
