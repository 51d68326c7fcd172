"""The diffusion engine: SDEdit (and sampling) behind the shared `Engine` interface.

One class for both model families — our pixel-space class-conditional DDPM and Stable Diffusion —
so the demo and the CLI never branch on the model: options are validated here, the guide and mask
prepared here, the backend (`pixel_backend` / `stable_diffusion`) runs diffusers, and the result
gets the same metrics (faithfulness = masked L2 to the guide), timings and options either way.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Optional, TypeVar

from PIL import Image

from .. import catalog, imaging
from ..evaluation import cat_faces
from ..evaluation.realism import PatchRealism
from ..base import (Engine, LatentStudioError, ModelDescription, ProgressCallback, Result, make_generator, pick_device,
                    pick_dtype)
from .backend import Backend, forwarded
from .guide import faithfulness, prepare_guide, prepare_mask
from .options import SDEditOptions
from .schedulers import scheduler_names

#: Option defaults (`SDEditOptions`' own); ``steps`` is the schedule length when the backend names none.
_DEFAULT = SDEditOptions()
DEFAULT_STEPS = _DEFAULT.steps


def _first_line(card: str) -> str:
    """The card's title line without markdown (what `describe().notes` shows)."""
    lines = [line.strip() for line in card.strip().splitlines() if line.strip() and not line.startswith("---")]
    return lines[0].lstrip("# ").strip() if lines else ""

T = TypeVar("T")


class DiffusionEngine(Engine):
    """SDEdit with DDPM/DDIM/… and classifier-free guidance over our pixel model or Stable Diffusion.

    ``source``: "default" (our model in weights/ddpm-cats64),
    a local diffusers folder, a known model name ("sd-turbo", "stable-diffusion-v1-5": `engines.catalog`) or a
    hub id ("hf:org/repo" or "org/repo"). Turbo models (a catalogue flag, or "turbo" in the repo id or folder
    name) default to guidance 0 and 4 steps; `default_steps` / `default_guidance` say what a job gets.
    ``dtype``: None = float32, float16 for Stable Diffusion on CUDA. ``resolution`` (Stable Diffusion only,
    multiple of 8): the size guides are cropped/resized to (default: the checkpoint's native size, 512 for v1.x).
    ``attention_slicing`` / ``cpu_offload``: memory savers for small GPUs (Stable Diffusion).
    """

    def __init__(self, source: str = "default", device: Optional[str] = None, dtype: Optional[str] = None, *,
                 resolution: Optional[int] = None, attention_slicing: bool = False, cpu_offload: bool = False,
                 backend: Optional[Backend] = None) -> None:
        self.device = pick_device(device)
        self.card = ""
        if backend is not None:
            self.backend, self.source = backend, source
        else:
            from .loading import load_backend, read_card
            self.backend, self.source = load_backend(
                source, device=self.device, dtype=dtype, resolution=resolution,
                attention_slicing=attention_slicing, cpu_offload=cpu_offload)
            self.card = read_card(source)
        if resolution is not None and self.backend.kind == "pixel" and resolution != self.backend.resolution:
            raise LatentStudioError(f"This pixel-space model works at {self.backend.resolution}×"
                                    f"{self.backend.resolution} only (got resolution={resolution}).")
        self._lock = threading.Lock()  # pipelines and schedulers are stateful: one job at a time

    @classmethod
    def from_pipeline(cls, pipe: Any, device: Optional[str] = None, dtype: Optional[str] = None,
                      source: str = "memory", **options: Any) -> "DiffusionEngine":
        """An engine over an in-memory pipeline (a `ClassConditionalPixelPipeline` or an SD img2img pipeline)."""
        # imported on use, not to dodge a cycle (there is none): diffusers' pipelines (and, for Stable
        # Diffusion, transformers) take seconds to import, and a pixel-model user never needs the SD backend
        from .pixel_pipeline import ClassConditionalPixelPipeline
        dev = pick_device(device)
        if isinstance(pipe, ClassConditionalPixelPipeline):
            from .pixel_backend import PixelBackend
            backend: Backend = PixelBackend(pipe, dev, pick_dtype(dev, dtype))
        else:
            from .stable_diffusion import StableDiffusionBackend
            backend = StableDiffusionBackend(pipe, dev, pipe.unet.dtype, **options)
        return cls(source, device=str(dev), backend=backend)

    # ------------------------------------------------------------------------------------------
    kind = forwarded("backend", "kind", '"pixel" (our model) or "stable-diffusion".')
    resolution = forwarded("backend", "resolution")
    classes = forwarded("backend", "classes", "Class names a class-conditional model knows ([] for text or "
                                               "unconditional models).")

    def run_backend(self, work: Callable[[Backend], T]) -> T:
        """``work(backend)`` while this engine runs no other job (pipelines and schedulers are stateful)."""
        with self._lock:
            return work(self.backend)

    @property
    def schedulers(self) -> list[str]:
        return scheduler_names()

    default_guidance = forwarded("backend", "default_guidance")

    @property
    def default_steps(self) -> int:
        """Steps of the full schedule when a job gives none (4 for turbo models, else 50)."""
        return int(getattr(self.backend, "default_steps", DEFAULT_STEPS))

    @property
    def turbo(self) -> bool:
        """A distilled few-step model (SD-Turbo): no classifier-free guidance and few steps by default."""
        return bool(getattr(self.backend, "turbo", False))

    def describe(self) -> ModelDescription:
        label = "pixel-space DDPM" if self.kind == "pixel" else (
            "Stable Diffusion turbo (img2img)" if self.turbo else "Stable Diffusion (img2img)")
        notes = _first_line(self.card)
        entry = catalog.lookup(str(self.source))
        if entry is not None and not notes:
            notes = f"{entry.title} ({entry.licence})"
        if self.turbo:
            turbo = (f"turbo model: defaults guidance {self.default_guidance:g} (no CFG) and {self.default_steps} "
                     "steps; SDEdit runs int(steps × strength) of them")
            notes = f"{notes}; {turbo}" if notes else turbo
        return ModelDescription(
            name=f"{label} {self.resolution}px", source=str(self.source), resolution=self.resolution,
            device=str(self.device), dtype=str(self.backend.dtype).replace("torch.", ""),
            conditioning=self.backend.conditioning(), parameters=self.backend.parameters(), notes=notes)

    # ------------------------------------------------------------------------------------------
    def _options(self, **kwargs: Any) -> SDEditOptions:
        """The one place a job's options are checked (`SDEditOptions.check`), against this model's T."""
        return SDEditOptions(**kwargs).check(num_train_timesteps=self.backend.num_train_timesteps)

    def sample(self, n: int, seed: int, *, steps: Optional[int] = None, scheduler: str = _DEFAULT.scheduler,
               eta: float = _DEFAULT.eta,
               guidance: Optional[float] = None, prompt: Optional[str] = None,
               negative_prompt: Optional[str] = None, class_name: Optional[str] = None,
               progress: Optional[ProgressCallback] = None) -> list[Image.Image]:
        """``n`` images from noise (the full schedule, ``steps`` None = `default_steps`); sample i uses seed + i.
        SD: text2img."""
        make_generator(seed)
        opts = self._options(steps=self.default_steps if steps is None else steps, strength=1.0, scheduler=scheduler,
                             eta=eta, guidance=guidance, prompt=prompt, negative_prompt=negative_prompt,
                             class_name=class_name, n=n, frames=0)
        with self._lock:
            return self.backend.sample(opts, seed, progress).images

    def from_guide(self, guide: Any, mask: Any = None, *, seed: int = 0, steps: Optional[int] = None,
                   progress: Optional[ProgressCallback] = None, strength: Optional[float] = None,
                   t0: Optional[int] = None, scheduler: str = _DEFAULT.scheduler, eta: float = _DEFAULT.eta,
                   guidance: Optional[float] = None, prompt: Optional[str] = None,
                   negative_prompt: Optional[str] = None, class_name: Optional[str] = None, n: int = _DEFAULT.n,
                   frames: int = _DEFAULT.frames) -> Result:
        """SDEdit: noise ``guide`` to ``strength`` (default 0.6) or ``t0`` (of T timesteps), denoise with
        ``scheduler`` under guidance ``guidance`` (None: 3.0 for our model, 7.5 for SD, 0 for turbo models;
        1 = none). ``steps``: the full schedule (None: `default_steps`, 50 or 4 for turbo), of which
        ``int(steps × strength)`` run — ``options["denoise_steps"]`` in the result; zero is refused.

        ``mask`` (image/array, 1 = re-imagine; "auto" = the guide's strokes): outside it the result is
        exactly the guide. ``n`` samples, sample i seeded ``seed + i``. ``frames``: x0 previews of the
        first sample for progress and GIFs (``Result.frames`` = guide, previews, final image). Limits:
        `SDEditOptions`, checked here once; ``progress`` is a callback, never part of ``Result.options``.
        """
        start = time.perf_counter()
        make_generator(seed)
        opts = self._options(steps=self.default_steps if steps is None else steps, strength=strength, t0=t0,
                             scheduler=scheduler, eta=eta, guidance=guidance, prompt=prompt,
                             negative_prompt=negative_prompt, class_name=class_name, n=n, frames=frames)
        cond = self.backend.check_conditioning(opts)
        guide_img, guide_size = prepare_guide(guide, self.resolution)
        m = prepare_mask(mask, guide, guide_size, self.resolution)
        prepared = time.perf_counter()
        with self._lock:
            if opts.strength == 0.0:
                run_images, previews, info = [guide_img.copy() for _ in range(opts.n)], [], {
                    **cond, "denoise_steps": 0, "t_start": None, "cfg": False}
            else:
                run = self.backend.sdedit(guide_img, m, opts, seed, progress)
                run_images, previews, info = run.images, run.previews, run.info
        done = time.perf_counter()
        metrics = faithfulness(run_images, guide_img, m)
        realism = PatchRealism.default()
        if realism is not None:
            metrics["realism"] = realism.score(imaging.to_tensor(run_images)).tolist()
        face = cat_faces.confidence(imaging.to_tensor(run_images))  # the same figure as the GAN's scribbles
        metrics.update(cat_face=face.tolist(), holds_face=(face >= cat_faces.MIN_CONFIDENCE).tolist())
        if "nsfw_content_detected" in info:
            metrics["nsfw_content_detected"] = info.pop("nsfw_content_detected")
        frames_out = [guide_img, *previews, run_images[0]] if previews else []
        options = {**opts.as_dict(), **info, "seed": seed, "seeds": [seed + i for i in range(opts.n)],
                   "model": str(self.source), "kind": self.kind, "resolution": self.resolution,
                   "masked": m is not None, "device": str(self.device), "turbo": self.turbo,
                   "model_defaults": [k for k, v in (("steps", steps), ("guidance", guidance)) if v is None]}
        timings = {"prepare": prepared - start, "denoise": done - prepared, "total": time.perf_counter() - start}
        timings["per_image"] = timings["denoise"] / opts.n
        if info.get("denoise_steps"):
            timings["per_step_ms"] = 1000 * timings["denoise"] / info["denoise_steps"]
        return Result(images=run_images, frames=frames_out, metrics=metrics, timings=timings, options=options)

    def translate(self, photo: Any, **options: Any) -> Result:
        """Turn the cat in ``photo`` into another class of this model, keeping its pose and layout (DDIM inversion
        under its class, regeneration under the target; `translation.translate`; options: `TranslateOptions` fields,
        ``face`` and ``progress``)."""
        from .translation import translate
        return translate(self, photo, **options)
