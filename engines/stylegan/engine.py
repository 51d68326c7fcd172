"""The GAN engine: the shared `Engine` interface over a loaded StyleGAN2 or DCGAN.

``from_guide`` is masked projection (a full photo, or a scribble with its mask); the GAN-specific operations
(`invert`, `scribble`, `interpolate`, `edit`, `drag`, `directions`) are methods here too, so the demo and the CLI
only ever talk to this class. It holds the model (class views, latent records, sampling, the mean w, the caches);
the operations live in `inversion` (projection, its report, PTI), `editing`, `interpolation` and `dragging`, which
see the engine only as a `view.GanView`.
"""
from __future__ import annotations

import copy
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from ..base import (as_list, Engine, LatentStudioError, ModelDescription, ProgressCallback, Result, check_range,
                    make_generator, pick_device)
from .. import imaging
from ..evaluation.features import FeatureDistance
from ..evaluation.photo_distance import PhotoDistance
from . import classes, directions, dragging, editing, interpolation, inversion
from .checkpoints import GanBundle, load_gan
from .encoder import Encoder, load_encoder
from .latents import latent_record, load_noise, read_latent
from .losses import DiscriminatorFeatures
from .options import SCRIBBLE_DEFAULTS, SCRIBBLE_NOISE_FROM  # noqa: F401 (re-exported: their old home)
from .projector import LossCallback, ProjectionConfig
from .view import LatentTensors, ModelCache

MEAN_W_SAMPLES = 4096  # mapped z averaged for the mean w where the model tracks none (and per class)


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
        self.cache = ModelCache()  # computed once per model, shared by class views and tuned copies
        self._mean_w: Optional[torch.Tensor] = None  # this view's (its class's) mean w, once computed
        self._typical_w: Optional[float] = None  # typical distance of mapped z from that mean, once computed
        self.tuning_curve: Optional[list[float]] = None  # a tuned copy's PTI loss per step (`tuned_for`)

    # ------------------------------------------------------------------------------------------
    # Class-conditional models
    @property
    def num_classes(self) -> int:
        return int(getattr(self.bundle.G, "c_dim", 0) or 0)

    def class_names(self) -> list[str]:
        """The model's class names where its files give them, else "0" … "N-1" (empty when unconditional)."""
        return classes.class_names(self.bundle.config, self.num_classes)

    def class_index_of(self, label: Any) -> Optional[int]:
        """A class index from an index, a digit string or a class name; None for an unconditional model
        (`classes.class_index`: a class-conditional model needs one, an unconditional one refuses one)."""
        return classes.class_index(label, self.class_names())

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
        view._mean_w = self.cache.class_means.get(index)
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

    def read_latent(self, src: Any, *, with_noise: bool = True) -> LatentTensors:
        """A latent ``.npz`` path or record (a file's, an inversion's `Result.latents`) → ``(latent [N, …], space,
        noise maps [N, 1, r, r] per layer or None)`` on our device, checked against this model (`latents.read_latent`;
        ``with_noise=False``: the maps are not read)."""
        latent, space, noise = read_latent(src, self.G, self.fingerprint, self.arch, with_noise=with_noise)
        return latent.to(self.device), space, {k: v.to(self.device) for k, v in noise.items()} if noise else None

    def load_latent(self, src: Any) -> tuple[torch.Tensor, str]:
        """`read_latent` without the noise maps: ``(latent [N, …] on our device, space)``."""
        return self.read_latent(src, with_noise=False)[:2]

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
    # Sampling, rendering, the mean w and the encoder
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
        """The mean w: the tracked ``w_avg`` when the model has one (and, for a class view, the class's own mean),
        else the mean of `MEAN_W_SAMPLES` mapped z (cached)."""
        if self._mean_w is None:
            w_avg = getattr(self.G, "w_avg", None)
            if w_avg is None:
                raise LatentStudioError(f"{self.arch} has no w space.")
            if self.class_index is not None:  # the class's own mean: the global w_avg mixes every class
                self._mean_w = self.cache.class_means.setdefault(self.class_index, self.G.mean_w(n=MEAN_W_SAMPLES))
            else:
                self._require_class()
                self._mean_w = w_avg.clone() if bool(w_avg.abs().sum() > 0) else self.G.mean_w(n=MEAN_W_SAMPLES)
        return self._mean_w.float()  # fp32 even when first computed under autocast

    @torch.no_grad()
    def typical_w_distance(self) -> float:
        """Mean distance of mapped random z from the mean w: the yardstick for "how far off-manifold"."""
        if self._typical_w is None:
            self._require_class()
            z = torch.randn([2048, self.G.z_dim], generator=make_generator(12345)).to(self.device)
            self._typical_w = float((self.G.mapping(z)[:, 0] - self.mean_w()).norm(dim=-1).mean())
        return self._typical_w

    @property
    def encoder(self) -> Optional[Encoder]:
        """The model folder's ``encoder/`` (trained for exactly this generator), or None (loaded once)."""
        if not self.cache.encoder_loaded:
            folder = self.bundle.folder / "encoder" if self.bundle.folder is not None else None
            if folder is not None and folder.is_dir() and self.arch == "stylegan2" and self.G.c_dim == 0:
                self.cache.encoder = load_encoder(folder, fingerprint=self.fingerprint, device=self.device)
            self.cache.encoder_loaded = True
        return self.cache.encoder

    @encoder.setter
    def encoder(self, encoder: Optional[Encoder]) -> None:
        """Use ``encoder`` (one trained for this generator, e.g. a candidate being measured) instead of the folder's."""
        self.cache.encoder, self.cache.encoder_loaded = encoder, True

    def default_init(self, space: str) -> str:
        """How an inversion starts unless told (`inversion.default_init`: the encoder's output where there is one)."""
        return inversion.default_init(self, space)

    def default_optimize_noise(self, optimizer: str) -> bool:
        """Whether an inversion fits the noise maps unless told (`inversion.default_optimize_noise`)."""
        return inversion.default_optimize_noise(self.G, optimizer)

    # ------------------------------------------------------------------------------------------
    # Projection: photos and sketches in, `Result` out (`inversion`; the algorithm is `projector.project`)
    def project(self, targets: torch.Tensor, mask: Optional[torch.Tensor], config: ProjectionConfig, *,
                seed: int = 0, progress: Optional[ProgressCallback] = None,
                on_loss: Optional[LossCallback] = None) -> Result:
        """Run `projector.project` on tensors (targets [N, C, R, R], mask [1|N, 1, R, R] or None) and report it
        (`inversion.project`): reconstruction or masked-L2 figures, perceptual distance, distance from the mean latent."""
        self._require_class()
        return inversion.project(self, targets, mask, config, seed=seed, progress=progress, on_loss=on_loss)

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
        if not self.cache.photo_distance_loaded:
            self.cache.photo_distance = inversion.load_photo_distance(self.bundle.folder, self.bundle.D,
                                                                      self.fingerprint, self.device)
            self.cache.photo_distance_loaded = True
        return self.cache.photo_distance

    def targets(self, images: Any) -> torch.Tensor:
        """Photos (paths, PIL, arrays; centre-cropped, resized, alpha on white) → [N, C, R, R] in [-1, 1]."""
        imgs = [imaging.center_crop_resize(imaging.load_image(img), self.resolution) for img in as_list(images)]
        if not imgs:
            raise LatentStudioError("No images to invert.")
        return imaging.to_tensor(imgs, device=self.device)

    def scribble_target(self, sketch: Any, mask: Any = None, *, dilate: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """A sketch → (target [1, C, R, R], mask [1, 1, R, R]) for this model (`inversion.sketch_target`)."""
        return inversion.sketch_target(sketch, mask, self.resolution, dilate=dilate, device=self.device)

    def tuned_for(self, image: Any, pivot: torch.Tensor, space: str, *, steps: int = 200,
                  progress: Optional[ProgressCallback] = None,
                  noise: Optional[dict[str, torch.Tensor]] = None) -> "GanEngine":
        """This engine with a generator pivotally tuned so that ``pivot`` [1, …] renders ``image`` (`inversion.tune`),
        for that image only (the loaded model is untouched; latents keep their meaning)."""
        tuned, curve = inversion.tune(self, image, pivot, space, steps=steps, progress=progress, noise=noise)
        view = copy.copy(self)
        view.G, view.tuning_curve = tuned, curve
        return view

    def invert(self, images: Any, *, seed: int = 0, face: bool = False, pti_steps: int = 0,
               progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None,
               **options: Any) -> Result:
        """Project photos into a latent space (see `inversion.invert`); ``options`` are `ProjectionConfig` fields
        (`inversion.invert_config` fills in the start and the noise fitting), ``pti_steps`` > 0 tunes a copy of the
        generator to each photo afterwards (`tuned_for`)."""
        self._require_class()
        return inversion.invert(self, images, inversion.invert_config(self, options), seed=seed, face=face,
                                pti_steps=pti_steps, progress=progress, on_loss=on_loss)

    def scribble(self, sketch: Any, mask: Any = None, *, seed: int = 0, dilate: int = 0,
                 progress: Optional[ProgressCallback] = None, on_loss: Optional[LossCallback] = None,
                 **options: Any) -> Result:
        """A realistic image that agrees with a colour scribble where it has strokes (see `inversion.scribble`);
        ``options`` are `ProjectionConfig` fields over `SCRIBBLE_DEFAULTS` (`inversion.scribble_config`)."""
        self._require_class()
        return inversion.scribble(self, sketch, mask, inversion.scribble_config(self, options), seed=seed, dilate=dilate,
                                  progress=progress, on_loss=on_loss)

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
