"""The GAN engine: the shared `Engine` interface over a loaded StyleGAN2 or DCGAN.

``from_guide`` is masked projection (a full photo, or a scribble with its mask); the GAN-specific
operations (`invert`, `interpolate`, `edit`, `directions`) are methods here too, so the demo and
the CLI only ever talk to this class.
"""
from __future__ import annotations

import copy
import re
import time
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from ..base import (as_list, Engine, LatentStudioError, ModelDescription, ProgressCallback, Result, check_range,
                    make_generator, pick_device)
from .. import faces, imaging
from ..evaluation import cat_faces
from ..evaluation.faithfulness import reconstruction
from ..evaluation.features import FeatureDistance
from ..evaluation.photo_distance import FILE_NAME as PHOTO_FEATURES, PhotoDistance
from ..evaluation.realism import PatchRealism
from . import directions, dragging, editing, interpolation
from .checkpoints import GanBundle, load_gan
from .encoder import Encoder, load_encoder
from .latents import latent_record, load_latents, load_noise
from .losses import DiscriminatorFeatures, make_perceptual
from .options import SCRIBBLE_DEFAULTS, SCRIBBLE_NOISE_FROM  # noqa: F401 (their old home)
from .projector import LossCallback, ProjectionConfig, Projector, pick
from .pti import pivotal_tuning

RESTART_LOSS_TOLERANCE = 0.25  # a scribble's restart may lose this much (relative) loss for more realism


def restart_score(images: torch.Tensor, realism: Optional[PatchRealism]) -> torch.Tensor:
    """How much each image [N, 3, R, R] looks like a cat photo, to rank a scribble's restarts: the cat-face
    detector's confidence (0 without a face, ≥ 1 a face; `evaluation.cat_faces`) plus the patch realism in [0, 1]
    (which breaks ties between restarts without a face)."""
    score = cat_faces.confidence(images)
    if realism is not None:
        score = score + realism.score(images)
    return score


def _pil_progress(progress: Optional[ProgressCallback]) -> Optional[Any]:
    """The projector reports tensor previews; users' callbacks get PIL images."""
    if progress is None:
        return None
    return lambda step, total, preview: progress(step, total, None if preview is None else imaging.to_pil(preview)[0])


class GanEngine(Engine):
    """A StyleGAN2 or DCGAN behind the shared interface (CPU or CUDA, float32)."""

    def __init__(self, source: str = "default", *, arch: str = "stylegan2", device: str | None = None,
                 bundle: Optional[GanBundle] = None) -> None:
        self.device = pick_device(device)
        self.bundle = bundle if bundle is not None else load_gan(source, arch=arch, device=self.device)
        self.bundle.G.to(self.device)
        if self.bundle.D is not None:
            self.bundle.D.to(self.device)
        self.G = self.bundle.G
        self.arch = self.bundle.arch
        self.class_index: Optional[int] = None
        self._class_means: dict[int, torch.Tensor] = {}  # shared by every for_class view
        self._photo_distance: list[Optional[PhotoDistance]] = []  # loaded once (a list: shared by for_class views)

    # ------------------------------------------------------------------------------------------
    # Class-conditional models
    @property
    def num_classes(self) -> int:
        return int(getattr(self.bundle.G, "c_dim", 0) or 0)

    def class_names(self) -> list[str]:
        """The model's class names where its files give them, else "0" … "N-1" (empty when unconditional)."""
        names = (self.bundle.config.get("generator") or {}).get("class_names") or []
        if len(names) == self.num_classes and all(isinstance(n, str) for n in names):
            return list(names)
        return [str(i) for i in range(self.num_classes)]

    def class_index_of(self, label: Any) -> Optional[int]:
        """A class index from an index, a digit string or a class name; None for an unconditional model.

        A class-conditional model needs one; an unconditional one refuses one (it would mean nothing)."""
        if label is None or (isinstance(label, str) and not label.strip()):
            if self.num_classes:
                raise LatentStudioError(
                    f"This model is class-conditional ({self.num_classes} classes): choose a class "
                    f"(0–{self.num_classes - 1}{' or a name: ' + ', '.join(self.class_names()) if self._named() else ''}) "
                    "with --class in the CLI (--gan-class for compare) or the Class menu in the app.")
            return None
        if not self.num_classes:
            raise LatentStudioError(f"This model is unconditional: it has no classes, so leave the class out "
                                    f"(got {label!r}).")
        names = self.class_names()
        text = str(label).strip()
        if text in names and self._named():
            return names.index(text)
        if isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool):
            index = int(label) if float(label).is_integer() else None
        else:
            index = int(text) if re.fullmatch(r"[+-]?\d+", text) else None
        if index is None:
            known = f"names {', '.join(names)} or " if self._named() else ""
            raise LatentStudioError(f"Unknown class {label!r}: give {known}an index 0–{self.num_classes - 1}.")
        check_range("Class", index, 0, self.num_classes - 1, integer=True)
        return index

    def _named(self) -> bool:
        return self.class_names() != [str(i) for i in range(self.num_classes)]

    def for_class(self, label: Any) -> "GanEngine":
        """This engine with its class fixed (weights shared); ``self`` for an unconditional model and no class."""
        index = self.class_index_of(label)
        if index is None:
            return self
        view = copy.copy(self)
        c = torch.zeros(self.num_classes, device=self.device)
        c[index] = 1
        view.G = self.bundle.G.with_class(c)
        view.class_index = index
        view._mean_w = self._class_means.get(index)
        view._typical_w = None
        return view

    def _require_class(self) -> None:
        if not getattr(self.G, "class_bound", True):
            self.class_index_of(None)  # raises the message that says how to choose one

    @property
    def fingerprint(self) -> str:
        return self.bundle.fingerprint

    def latent_record(self, latent: torch.Tensor, space: str,
                      noise: Optional[dict[str, torch.Tensor]] = None) -> dict[str, np.ndarray]:
        """What `Result.latents` holds and ``.npz`` files store: the code, its space, our fingerprint and the
        noise maps an inversion optimised (if any)."""
        return latent_record(latent, space, self.arch, self.fingerprint, noise)

    def load_latent(self, src: Any) -> tuple[torch.Tensor, str]:
        """A latent ``.npz`` path or record → ``(latent [N, …] on our device, space)``, checked against this model."""
        latent, space = load_latents(src, self.G, self.fingerprint, self.arch)
        return latent.to(self.device), space

    def load_noise(self, src: Any, n: int) -> Optional[dict[str, torch.Tensor]]:
        """The noise maps saved with a latent ``.npz`` path or record ([n, 1, r, r] per layer, on our device), or
        None when it has none."""
        noise = load_noise(src, self.G, n)
        return {k: v.to(self.device) for k, v in noise.items()} if noise is not None else None

    @property
    def resolution(self) -> int:
        return int(self.G.img_resolution)

    @property
    def spaces(self) -> tuple[str, ...]:
        return tuple(self.G.spaces)

    def describe(self) -> ModelDescription:
        G = self.G
        notes = self.bundle.card.strip().splitlines()[0].lstrip("# ").strip() if self.bundle.card.strip() else ""
        return ModelDescription(
            name=f"{self.arch} {self.resolution}px", source=self.bundle.source, resolution=self.resolution,
            device=str(self.device), dtype="float32",
            conditioning=(f"{self.num_classes} classes ({', '.join(self.class_names())})" if self.num_classes
                          else "unconditional"),
            parameters=sum(p.numel() for p in G.parameters()), spaces=self.spaces, notes=notes)

    # ------------------------------------------------------------------------------------------
    def random_z(self, n: int, seed: int) -> torch.Tensor:
        """``n`` latent codes from a private CPU generator (same seed → same z on every device)."""
        check_range("Number of samples", n, 1, 1024, integer=True)
        z = torch.randn([n, self.G.z_dim], generator=make_generator(seed))
        return z.to(self.device)

    @torch.no_grad()
    def sample(self, n: int, seed: int, *, truncation: float = 1.0, noise_mode: str = "const",
               batch_size: int = 16, progress: Optional[ProgressCallback] = None) -> list[Image.Image]:
        """``n`` images for ``seed``; ``truncation`` < 1 trades variety for typicality (psi)."""
        check_range("Truncation", truncation, 0.0, 2.0)
        check_range("Batch size", batch_size, 1, 1024, integer=True)
        self._require_class()
        z = self.random_z(n, seed)
        images: list[Image.Image] = []
        for start in range(0, n, batch_size):
            imgs = self.G(z[start:start + batch_size], truncation_psi=truncation, noise_mode=noise_mode)
            images += imaging.to_pil(imgs)
            if progress is not None:
                progress(len(images), n, images[-1])
        return images

    @torch.no_grad()
    def synthesize(self, latent: torch.Tensor | np.ndarray, space: str,
                   noise: Optional[dict[str, torch.Tensor]] = None) -> list[Image.Image]:
        """Images from latents in ``space`` (z, w or w+), with per-image noise maps (StyleGAN2; [N, 1, r, r] per
        layer, e.g. an inversion's) or the model's constant noise."""
        latent = torch.as_tensor(np.asarray(latent) if not isinstance(latent, torch.Tensor) else latent,
                                 dtype=torch.float32, device=self.device)
        if space not in self.spaces:
            raise LatentStudioError(f"{self.arch} has no {space!r} space; it supports {', '.join(self.spaces)}.")
        if space == "z":
            self._require_class()
        if noise:
            return imaging.to_pil(self.G.synthesize(latent, space, noise={k: v.to(self.device) for k, v in noise.items()}))
        return imaging.to_pil(self.G.synthesize(latent, space))

    @torch.no_grad()
    def mean_w(self) -> torch.Tensor:
        """The mean w: the tracked ``w_avg`` when the model has one, else the mean of 10k mapped z (cached)."""
        if getattr(self, "_mean_w", None) is None:
            w_avg = getattr(self.G, "w_avg", None)
            if w_avg is None:
                raise LatentStudioError(f"{self.arch} has no w space.")
            if self.class_index is not None:  # the class's own mean: the global w_avg mixes every class
                self._mean_w = self._class_means.setdefault(self.class_index, self.G.mean_w(n=4096))
            else:
                self._require_class()
                self._mean_w = w_avg.clone() if bool(w_avg.abs().sum() > 0) else self.G.mean_w(n=4096)
        return self._mean_w.float()  # fp32 even when first computed under autocast

    @torch.no_grad()
    def typical_w_distance(self) -> float:
        """Mean distance of mapped random z from the mean w: the yardstick for "how far off-manifold"."""
        if getattr(self, "_typical_w", None) is None:
            self._require_class()
            z = torch.randn([2048, self.G.z_dim], generator=make_generator(12345)).to(self.device)
            self._typical_w = float((self.G.mapping(z)[:, 0] - self.mean_w()).norm(dim=-1).mean())
        return self._typical_w

    @property
    def encoder(self) -> Optional[Encoder]:
        """The model folder's ``encoder/`` (trained for exactly this generator), or None (loaded once)."""
        if not hasattr(self, "_encoder"):
            folder = self.bundle.folder / "encoder" if self.bundle.folder is not None else None
            enc = None
            if folder is not None and folder.is_dir() and self.arch == "stylegan2" and self.G.c_dim == 0:
                enc = load_encoder(folder, fingerprint=self.fingerprint, device=self.device)
            self._encoder = enc
        return self._encoder

    def default_init(self, space: str) -> str:
        """How an inversion starts unless told: from the encoder's output where the model has one (w / w+)."""
        return "encoder" if space in ("w", "w+") and self.encoder is not None else "mean"

    def default_optimize_noise(self, optimizer: str) -> bool:
        """Whether an inversion also fits the noise maps unless told: yes for StyleGAN2 with Adam (they carry the
        fine detail, stripes and pupils, that the latent cannot: `bench.encoder`); DCGAN has none, and L-BFGS's
        curvature model does not survive the maps' renormalisation after every step."""
        return self.G.arch == "stylegan2" and optimizer == "adam"

    def _noise_default(self, options: dict) -> dict:
        """``options`` with ``optimize_noise`` filled in by `default_optimize_noise` when the caller left it unset."""
        if options.get("optimize_noise") is None:
            optimizer = options.get("optimizer") or ProjectionConfig.optimizer
            options = {**options, "optimize_noise": self.default_optimize_noise(optimizer)}
        return options

    # ------------------------------------------------------------------------------------------
    # Projection: photos and sketches in, `Result` out (the algorithm is `projector.project`)
    def project(self, targets: torch.Tensor, mask: Optional[torch.Tensor], config: ProjectionConfig, *,
                seed: int = 0, progress: Optional[ProgressCallback] = None,
                on_loss: Optional[LossCallback] = None) -> Result:
        """Run `projector.Projector` on tensors (targets [N, C, R, R], mask [1|N, 1, R, R] or None) and
        report it: reconstruction or masked-L2 figures, perceptual distance, distance from the mean latent."""
        self._require_class()
        config = config.validate(self.spaces)
        perceptual = None
        if config.perceptual != "none" and config.perceptual_weight > 0:
            perceptual = make_perceptual(config.perceptual, self.bundle.D).to(self.device)
        w_avg = self.mean_w() if config.space != "z" else None
        start, encode_seconds = None, 0.0
        if config.init == "encoder":
            if self.encoder is None:
                raise LatentStudioError("This model has no encoder (no encoder/ in its folder): train one with "
                                        "`python -m engines train-encoder`, or start from 'mean'.")
            t0 = time.perf_counter()
            with torch.no_grad():
                start = self.encoder.encode(targets, config.space)
            encode_seconds = time.perf_counter() - t0
        proj = Projector(self.G, config, w_avg=w_avg, perceptual=perceptual).run(
            targets, mask, seed, _pil_progress(progress), on_loss, start)
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
        if self.photo_distance() is not None:
            metrics["photo_distance"] = self.photo_distance().distance(proj.images).tolist()
        if perceptual is not None:
            with torch.no_grad():
                metrics["perceptual"] = perceptual(proj.images, targets, mask).tolist()
        metrics.update(latent_distance=self.latent_distance(proj.latent, config.space).tolist(),
                       loss=proj.loss.tolist(), loss_curve=proj.best_curve, loss_curves=proj.curves,
                       perceptual_net=perceptual.name if perceptual is not None else "none",
                       steps=config.steps, restarts=config.restarts, stopped_nonfinite=proj.stopped_nonfinite)
        return Result(images=imaging.to_pil(proj.images), frames=[imaging.to_pil(f)[0] for f in proj.frames],
                      latents=self.latent_record(proj.latent, config.space, proj.noise or None), metrics=metrics,
                      timings={"total": proj.seconds + encode_seconds, "encoder": encode_seconds,
                               "per_step_ms": 1000 * proj.seconds / max(1, proj.steps_run)},
                      options={**config.as_dict(), "seed": seed, "masked": mask is not None, "restart_picked_by": picked_by})

    def feature_distance(self, resolution: Optional[int] = None) -> FeatureDistance:
        """The LPIPS-style yardstick in this model's discriminator features (RMS pixels when it has no
        discriminator, or when ``resolution`` is not the model's)."""
        D = self.bundle.D
        if D is None or (resolution is not None and resolution != self.resolution):
            return FeatureDistance(None)
        return FeatureDistance(DiscriminatorFeatures(D.eval().requires_grad_(False)), f"D features ({self.bundle.source})")

    def photo_distance(self) -> Optional[PhotoDistance]:
        """Distance to held-out real photos in this model's discriminator features (1 ≈ a photo;
        `evaluation.photo_distance`), where the model's folder holds a reference made for these weights
        (``photo_features.npz``, by ``python -m bench.photo_distance``); None otherwise."""
        if not self._photo_distance:
            found = None
            path = self.bundle.folder / PHOTO_FEATURES if self.bundle.folder is not None else None
            if path is not None and path.is_file() and self.bundle.D is not None:
                D = self.bundle.D.eval().requires_grad_(False)
                try:
                    found = PhotoDistance.load(path, lambda x: D.features(x.to(self.device)))
                except LatentStudioError:  # made another way: no figure rather than a misleading one
                    found = None
                if found is not None and found.fingerprint != self.fingerprint:  # made for other weights
                    found = None
            self._photo_distance.append(found)
        return self._photo_distance[0]

    @torch.no_grad()
    def latent_distance(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        """RMS distance from the mean latent [N], relative to that of random samples in w (≈1 = typical)."""
        if space == "z":
            return latent.flatten(1).square().mean(dim=1).sqrt()
        rows = latent if latent.ndim == 3 else latent.unsqueeze(1)
        return (rows - self.mean_w()).norm(dim=-1).mean(dim=1) / self.typical_w_distance()

    def targets(self, images: Any) -> torch.Tensor:
        """Photos (paths, PIL, arrays; centre-cropped, resized, alpha on white) → [N, C, R, R] in [-1, 1]."""
        imgs = [imaging.center_crop_resize(imaging.load_image(img), self.resolution) for img in as_list(images)]
        if not imgs:
            raise LatentStudioError("No images to invert.")
        return imaging.to_tensor(imgs, device=self.device)

    def scribble_target(self, sketch: Any, mask: Any = None, *, dilate: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """A sketch → (target [1, C, R, R], mask [1, 1, R, R]): ``mask`` (white = strokes) or, when None, the
        sketch's own strokes (its alpha, or its non-background pixels, grown by ``dilate`` pixels)."""
        res = self.resolution
        if mask is None:
            m = imaging.mask_from_scribble(sketch, dilate=dilate)
            m = np.asarray(Image.fromarray((m * 255).astype(np.uint8)).resize((res, res), Image.BILINEAR)) / 255.0
            m = (m > 0.5).astype(np.float32) if m.max() > 0 else m
        else:
            m = imaging.load_mask(mask, size=res)
        imaging.check_mask(m)
        target = imaging.to_tensor(imaging.load_image(sketch).resize((res, res), Image.LANCZOS), device=self.device)
        return target, torch.as_tensor(np.asarray(m, dtype=np.float32), device=self.device)[None, None]

    def tuned_for(self, image: Any, pivot: torch.Tensor, space: str, *, steps: int = 200,
                  progress: Optional[ProgressCallback] = None,
                  noise: Optional[dict[str, torch.Tensor]] = None) -> "GanEngine":
        """This engine with a generator pivotally tuned (`pti.pivotal_tuning`) so that ``pivot`` [1, …] renders
        ``image`` (a photo, or its target tensor [1, C, R, R]); for that image only (the loaded model is
        untouched). Latents keep their meaning. ``noise``: the pivot's own noise maps (an inversion's), which
        the tuned copy then renders as its constant noise."""
        check_range("PTI steps", steps, 1, 2000, integer=True)
        target = image if isinstance(image, torch.Tensor) else self.targets([image])
        report = (lambda s, t: progress(s, t, None)) if progress is not None else None
        noise = {k: v[:1].to(self.device) for k, v in noise.items()} if noise else None
        tuned, curve = pivotal_tuning(self.G, pivot[:1].to(self.device), space, target[:1], steps=steps,
                                      noise=noise, progress=report)
        view = copy.copy(self)
        view.G, view.tuning_curve = tuned, curve
        return view

    def invert(self, images: Any, *, seed: int = 0, face: bool = False, pti_steps: int = 0,
               progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None,
               **options: Any) -> Result:
        """Project photos into a latent space; one optimisation for the whole batch, each image keeps its own best.

        ``options`` are `ProjectionConfig` fields (space w+, Adam, 300 steps, L2 + 0.1 · perceptual by
        default; the start is the model's encoder output where it has one, `default_init`); ``on_loss(step,
        loss)`` after every step feeds a live loss curve. ``face``: find each
        photo's cat face and invert it framed like the training photos (`faces.crop_face`; a photo without
        one: its centre square); the crop boxes are in ``options["face_boxes"]`` for `faces.paste_back`
        (``options["face_found"]``: whether each was a face). ``metrics["warnings"]``: per image what to tell the
        user (`faces.domain_warnings`: no cat face at all; the centre square used), empty when all is well.
        ``pti_steps`` > 0: then tune a copy of the generator around each pivot (`tuned_for`) for that many
        steps; the images and figures are the tuned ones (``metrics["psnr_pivot"]``: before tuning)."""
        self._require_class()
        if options.get("init") is None:
            options["init"] = self.default_init(options.get("space") or ProjectionConfig.space)
        options = self._noise_default(options)
        config = ProjectionConfig.from_options(**options)
        check_range("PTI steps", pti_steps, 0, 2000, integer=True)
        crops = [faces.crop_face(img, centre_if_none=True) for img in as_list(images)] if face else None
        photos = [c.image for c in crops] if crops else as_list(images)
        targets = self.targets(photos)
        # the domain check: a photo with no cat face is answered, but with a warning (a face crop found has one)
        told = [[faces.CENTRE_USED, *faces.domain_warnings(c.photo)] if not c.found else [] for c in crops] \
            if crops else [faces.domain_warnings(img) for img in as_list(images)]
        result = self.project(targets, None, config, seed=seed, progress=progress, on_loss=on_loss)
        result.metrics["warnings"] = told
        if crops:
            result.options["face_boxes"] = [list(c.box) for c in crops]
            result.options["face_found"] = [c.found for c in crops]
        if pti_steps:
            start = time.perf_counter()
            latents = torch.as_tensor(np.asarray(result.latents["latent"]), device=self.device)
            noise = self.load_noise(result.latents, len(photos)) or {}
            tuned = [self.tuned_for(targets[i:i + 1], latents[i:i + 1], config.space, steps=pti_steps, progress=progress,
                                    noise={k: v[i:i + 1] for k, v in noise.items()})
                     for i in range(len(photos))]
            with torch.no_grad():
                images = torch.cat([t.G.synthesize(latents[i:i + 1], config.space) for i, t in enumerate(tuned)])
            result.metrics["psnr_pivot"] = result.metrics["psnr"]
            result.metrics.update(reconstruction(images, targets))
            realism = PatchRealism.default()
            if realism is not None:
                result.metrics["realism"] = realism.score(images).tolist()
            result.images = imaging.to_pil(images)
            result.timings["pti"] = time.perf_counter() - start
            result.timings["total"] += result.timings["pti"]
            result.options["pti_steps"] = pti_steps
        return result

    def scribble(self, sketch: Any, mask: Any = None, *, seed: int = 0, dilate: int = 0,
                 progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None,
                 **options: Any) -> Result:
        """A realistic image that agrees with a colour scribble where it has strokes.

        The mask comes from ``mask`` (an image/array: white = strokes) or else from the sketch itself
        (its alpha, or its non-background pixels). Defaults differ from inversion (`SCRIBBLE_DEFAULTS`): the
        strokes' 16×16 colour layout is matched (``follow_lines`` 0; 1 = every pixel, the old behaviour, with the
        noise maps), no perceptual term and a pull toward the mean latent so the result stays a plausible cat.
        """
        self._require_class()
        options = {**SCRIBBLE_DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
        if options.get("optimize_noise") is None:  # fine detail only when the lines are to be followed closely
            follow = ProjectionConfig.limit("follow_lines").check(options["follow_lines"])
            options = (self._noise_default(options) if follow >= SCRIBBLE_NOISE_FROM
                       else {**options, "optimize_noise": False})
        config = ProjectionConfig.from_options(**options)
        target, mask_t = self.scribble_target(sketch, mask, dilate=dilate)
        result = self.project(target, mask_t, config, seed=seed, progress=progress, on_loss=on_loss)
        result.options["dilate"] = dilate
        return result

    def drag(self, source: Any, handles: Any, targets: Any, mask: Any = None, **options: Any) -> Result:
        """Drag handle points to target points (DragGAN) in a sample (an int seed), a latent or a photo (see
        `dragging.drag_image`; ``options`` are `drag.DragConfig` fields plus truncation, face, pti_steps,
        invert_options and progress)."""
        self._require_class()
        return dragging.drag_image(self, source, handles, targets, mask, **options)

    def interpolate(self, a: Any, b: Any, **options: Any) -> Result:
        """Frames between two images or latents (see `interpolation.interpolate`)."""
        self._require_class()
        return interpolation.interpolate(self, a, b, **options)

    @property
    def direction_methods(self) -> tuple[str, ...]:
        """The data-free direction finders this model supports (SeFa needs StyleGAN2's style affines)."""
        return ("sefa", "ganspace") if self.arch == "stylegan2" else ("ganspace",)

    @property
    def has_layers(self) -> bool:
        """Whether edits can be restricted to w+ layer ranges (StyleGAN2; a DCGAN edits its z only)."""
        return "w+" in self.spaces

    def layer_range(self, text: Any) -> Optional[tuple[int, int]]:
        """A w+ row range ("coarse", "a:b", "a-b" inclusive, …; see `directions.parse_layers`) for this model."""
        if not self.has_layers:
            raise LatentStudioError(f"{self.arch} has no w+ layers; leave the layer range out.")
        return directions.parse_layers(text, self.G.num_ws)

    @property
    def card(self) -> str:
        """The model card text (empty when the model has none)."""
        return self.bundle.card

    @torch.no_grad()
    def random_latent(self, seed: int, truncation: float = 0.7) -> dict[str, np.ndarray]:
        """A latent record of one random sample in the space edits act on (w, truncated toward the mean; z for DCGAN)."""
        check_range("Truncation", truncation, 0.0, 2.0)
        self._require_class()
        z = self.random_z(1, seed)
        if "w" not in self.spaces:
            return self.latent_record(z, "z")
        return self.latent_record(self.G.mapping(z, truncation_psi=truncation)[:, 0], "w")

    def directions(self, method: str, **options: Any) -> list:
        """Latent directions: ``sefa`` or ``ganspace`` (no data needed); see `directions.from_examples` for labels."""
        self._require_class()
        if method not in ("sefa", "ganspace"):
            raise LatentStudioError(f"Unknown direction method {method!r}: use sefa or ganspace (or from_examples).")
        return getattr(directions, method)(self.G, fingerprint=self.fingerprint, **options)

    def edit(self, latent: Any, direction: Any, strengths: list[float], **options: Any) -> Result:
        """Move a latent (or an image, inverted first) along a direction for each strength."""
        self._require_class()
        if not hasattr(direction, "vector"):
            direction = editing.load_direction(direction, self)
        return editing.edit(self, latent, direction, strengths, **options)

    def from_guide(self, guide: Any, mask: Any = None, *, seed: int = 0, steps: Optional[int] = None,
                   progress: Optional[ProgressCallback] = None, **options: Any) -> Result:
        """Masked projection: a latent whose image matches ``guide`` where ``mask`` is set: the whole image
        (inversion) when None, strokes derived from the guide when "auto", else the given mask (scribble)."""
        if steps is not None:
            options["steps"] = steps
        if mask is None:
            return self.invert([guide], seed=seed, progress=progress, **options)
        return self.scribble(guide, None if isinstance(mask, str) and mask == "auto" else mask, seed=seed,
                             progress=progress, **options)
