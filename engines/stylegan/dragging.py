"""Drag to edit at the engine level: a sample, a latent file or a photo in, a `Result` out (`GanEngine.drag`).

The algorithm lives in `drag` (tensors only). Here a start becomes a w+ latent [1, num_ws, w_dim] with its noise
maps: a seed is a sample (ψ 0.7, as the Sample tab's), a latent record or ``.npz`` is read (its noise maps kept), a
photo is inverted first (`editing.prepare_photo`: the face finder, PTI and the same cache as Edit) and the dragged
face is pasted back into it. Points are (x, y) in the model's pixels.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from ..base import LatentStudioError, ProgressCallback, Result, Timer
from .. import faces, imaging
from ..evaluation import cat_faces
from .drag_features import warp_key
from .drag import DragConfig, drag
from .editing import prepare_photo
from .latents import is_latent_source
from .view import GanView


def parse_points(text: str) -> tuple[list[list[float]], list[list[float]]]:
    """"x0,y0:x1,y1;x0,y0:x1,y1" (handle:target pairs) → (handles, targets); a clear error otherwise."""
    handles, targets = [], []
    for pair in [p for p in str(text).replace(" ", "").split(";") if p]:
        try:
            a, b = pair.split(":")
            (hx, hy), (tx, ty) = (tuple(float(v) for v in side.split(",")) for side in (a, b))
        except ValueError:
            raise LatentStudioError(f"Points are handle:target pairs 'x0,y0:x1,y1', separated by ';' (got {pair!r}).")
        handles.append([hx, hy])
        targets.append([tx, ty])
    if not handles:
        raise LatentStudioError("Give at least one handle:target pair, e.g. '20,28:20,20'.")
    return handles, targets


def _start(engine: GanView, source: Any, truncation: float, face: bool, pti_steps: int,
           invert_options: Optional[dict], progress: Optional[ProgressCallback]
           ) -> tuple[str, GanView, torch.Tensor, Optional[dict], Optional[faces.FaceCrop], list[str]]:
    """(what the source was: "seed", "latent" or "photo"; engine to render with; w+ [1, num_ws, w_dim]; noise maps
    or None; face crop or None; warnings)."""
    crop, told = None, []
    if isinstance(source, (int, np.integer)) and not isinstance(source, bool):
        kind = "seed"
        latent, space, noise = engine.read_latent(engine.random_latent(int(source), truncation))  # noise: None
    elif is_latent_source(source):
        kind = "latent"
        latent, space, noise = engine.read_latent(source)
    else:
        kind = "photo"
        prepared, _ = prepare_photo(engine, source, invert_options, face, pti_steps, progress)
        engine, latent, space, noise, crop, told = (prepared.engine, prepared.latent, prepared.space, prepared.noise,
                                                    prepared.crop, list(prepared.warnings))
    if latent.shape[0] != 1:
        raise LatentStudioError(f"Drag one image at a time: this latent holds {latent.shape[0]}.")
    with torch.no_grad():
        ws = engine.G.to_wplus(latent.to(engine.device), space)
    noise = {k: v[:1].to(engine.device) for k, v in noise.items()} if noise else None
    return kind, engine, ws, noise, crop, told


def drag_image(engine: GanView, source: Any, handles: Any, targets: Any, mask: Any = None, *, truncation: float = 0.7,
               face: bool = False, pti_steps: int = 0, invert_options: Optional[dict] = None,
               progress: Optional[ProgressCallback] = None, **options: Any) -> Result:
    """Drag ``handles`` to ``targets`` in ``source`` (a seed, a latent record / ``.npz`` or a photo). ``mask``: an
    image (white = may change) at any size. Result: images [before, after] (pasted back into the photo with
    ``face``), the drag's previews as frames, the final w+ latent (with the start's noise maps), and metrics: the
    handle path per step, whether every handle arrived, each handle's distance to its target before and after, the
    cat-face confidence and (where the model has one) the distance to real photos of the result."""
    if engine.arch != "stylegan2":
        raise LatentStudioError("Dragging needs a StyleGAN2 model (DCGAN has no w+ rows or synthesis blocks to move).")
    config = DragConfig.from_options(**options)
    timer = Timer()
    with timer("start"):
        kind, engine, ws, noise, crop, told = _start(engine, source, truncation, face, pti_steps, invert_options, progress)
    res = engine.resolution
    m = None
    if mask is not None:
        m = torch.as_tensor(imaging.load_mask(mask, size=(res, res)), dtype=torch.float32)[None, None]
    with timer("drag"):
        done = drag(engine.G, ws, handles, targets, m, config=config, noise=noise,
                    progress=imaging.pil_progress(progress))
    with torch.no_grad():
        before = engine.G.synthesis(ws, noise=noise)
    images = imaging.to_pil(torch.cat([before, done.image]).clamp(-1, 1))
    if crop is not None:  # the dragged face back in the photo
        images = [faces.paste_back(crop, im) for im in images]
    t = np.asarray(targets, dtype=np.float64)
    distance = lambda pts: np.linalg.norm(np.asarray(pts) - t, axis=1).round(2).tolist()  # noqa: E731
    metrics: dict[str, Any] = {
        "path": done.path, "arrived": done.arrived, "steps_run": done.steps_run, "losses": done.losses,
        "distance_before": distance(done.path[0]), "distance_after": distance(done.path[-1]),
        "cat_face": float(cat_faces.confidence(done.image)[0]), "warnings": told}
    metrics["holds_face"] = metrics["cat_face"] >= cat_faces.MIN_CONFIDENCE
    kept = noise
    if done.edit is not None and done.edit["kind"] in ("warp", "local"):  # the warp goes with the latent
        r = int(done.edit["resolution"])  # (composed with the start's warp of that block, if it had one)
        kept = {**(noise or {}), warp_key(r): done.edit["value"].to(engine.device)}
    elif done.edit is not None:  # an additive offset of one block's features is not kept with a latent
        told.append(f"feature_edit={config.feature_edit}: the saved latent renders without the feature offset.")
    yardstick = engine.photo_distance()
    if yardstick is not None:
        metrics["photo_distance"] = float(yardstick.distance(done.image)[0])
    return Result(images=images, frames=[imaging.to_pil(f.clamp(-1, 1))[0] for f in done.frames],
                  latents=engine.latent_record(done.latent, "w+", kept), metrics=metrics,
                  timings={**timer.timings, "per_step_ms": 1000 * done.seconds / max(1, done.steps_run)},
                  options={**config.as_dict(), "handles": np.asarray(handles, dtype=float).tolist(),
                           "targets": t.tolist(), "masked": mask is not None, "truncation": truncation,
                           "face_box": list(crop.box) if crop is not None else None, "pti_steps": pti_steps,
                           "source": kind})
