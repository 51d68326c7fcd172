"""The diffusion engine's backend for Stable Diffusion: a thin adapter over diffusers' own pipelines.

SDEdit *is* diffusers' ``StableDiffusionImg2ImgPipeline`` (noise the guide's latents to the strength's
timestep, denoise with CFG), so this module only chooses the pipeline and its arguments:

- no mask, strength < 1 → img2img; strength 1 → text2img (``StableDiffusionPipeline``), because
  img2img at strength 1 still mixes a trace of the guide into its starting latents;
- a mask → ``StableDiffusionInpaintPipeline`` built from the same components. With an ordinary
  (4-channel) checkpoint diffusers then pastes the guide's noised latents back outside the mask at
  every step — SDEdit's masked editing in latent space; a 9-channel inpainting checkpoint uses its
  own mask conditioning. Either way the decoded result is composited with the guide in pixel space
  so the output is exactly the guide outside the (binarised) mask.

The scheduler is swapped per job with ``from_config`` on the checkpoint's own scheduler config;
progress and x0 previews come from ``callback_on_step_end``, which also counts the steps that really
ran (``denoise_steps`` in the result: ``int(steps × strength)`` for img2img, never zero).

Turbo models (SD-Turbo: adversarially distilled for 1-4 steps without classifier-free guidance) get
their own defaults — guidance 0 and `TURBO_STEPS` steps — when the caller gives none.
"""
from __future__ import annotations

import functools
from typing import Any, Optional

import numpy as np
import torch
from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionInpaintPipeline, StableDiffusionPipeline
from PIL import Image

from .. import imaging
from ..base import LatentStudioError, ProgressCallback, check_range, report
from ..catalog import TURBO_GUIDANCE, TURBO_STEPS
from .backend import Backend, RunOutput, frame_steps, generators
from .guide import composite
from .options import SDEditOptions, zero_steps_message
from .schedulers import make_scheduler
from .strength import steps_run

#: Guidance scale and schedule length when none is given: diffusers' own defaults for Stable Diffusion.
SD_DEFAULT_GUIDANCE = 7.5
SD_DEFAULT_STEPS = 50


class StableDiffusionBackend(Backend):
    """Stable Diffusion 1.x/2.x-style checkpoints (UNet2DCondition + AutoencoderKL + CLIP text encoder)."""

    kind = "stable-diffusion"

    def __init__(self, img2img: StableDiffusionImg2ImgPipeline, device: torch.device, dtype: torch.dtype, *,
                 resolution: Optional[int] = None, attention_slicing: bool = False, cpu_offload: bool = False,
                 turbo: bool = False, steps: Optional[int] = None, guidance: Optional[float] = None) -> None:
        """``turbo``: a distilled few-step model (SD-Turbo): defaults become guidance 0 and `TURBO_STEPS` steps.
        ``steps`` / ``guidance``: the model's recommended defaults (from `engines.catalog`), overriding those."""
        self.device, self.dtype = device, dtype
        self.turbo = bool(turbo)
        self._default_steps = int(steps) if steps is not None else (TURBO_STEPS if turbo else SD_DEFAULT_STEPS)
        self._default_guidance = (float(guidance) if guidance is not None
                                  else (TURBO_GUIDANCE if turbo else SD_DEFAULT_GUIDANCE))
        self.cpu_offload = bool(cpu_offload)
        if self.cpu_offload and device.type != "cuda":
            raise LatentStudioError("CPU offload moves weights to the GPU only while they run: it needs a CUDA device.")
        self.img2img = img2img
        self.scheduler_config = dict(img2img.scheduler.config)
        self._pipes: dict[str, Any] = {"img2img": img2img}
        self._offloaded: Any = None
        if not self.cpu_offload:
            img2img.to(device)
        if attention_slicing:  # sets the attention processors of the shared UNet: every pipeline gets it
            img2img.enable_attention_slicing()
        native = int(img2img.unet.config.sample_size) * int(img2img.vae_scale_factor)
        self._resolution = native if resolution is None else resolution
        check_range("Resolution", self._resolution, 8, 2048, integer=True)
        if self._resolution % 8:
            raise LatentStudioError(f"Stable Diffusion needs a resolution that is a multiple of 8, got {self._resolution}.")
        self.inpainting = int(img2img.unet.config.in_channels) == 9

    # -------------------------------------------------------------------------------------------
    @property
    def resolution(self) -> int:
        return int(self._resolution)

    @property
    def num_train_timesteps(self) -> int:
        return int(self.scheduler_config.get("num_train_timesteps", 1000))

    @property
    def default_guidance(self) -> float:
        return self._default_guidance

    @property
    def default_steps(self) -> int:
        """Schedule length when the caller gives none (4 for turbo models, else 50)."""
        return self._default_steps

    def conditioning(self) -> str:
        return "text (CLIP prompt, negative prompt)" + (", inpainting checkpoint: needs a mask" if self.inpainting else "")

    def parameters(self) -> int:
        nets = [self.img2img.unet, self.img2img.vae, self.img2img.text_encoder]
        return sum(p.numel() for net in nets for p in net.parameters())

    def check_conditioning(self, opts: SDEditOptions) -> dict[str, Any]:
        if opts.class_name is not None:
            raise LatentStudioError(f"Stable Diffusion is conditioned on text, not classes: pass a prompt "
                                    f"(e.g. prompt={opts.class_name!r}) instead of class {opts.class_name!r}.")
        guidance = self.default_guidance if opts.guidance is None else opts.guidance
        if opts.negative_prompt and guidance <= 1.0:
            raise LatentStudioError("A negative prompt only acts through classifier-free guidance: use guidance > 1 "
                                    "or drop the negative prompt.")
        # diffusers' convention: guidance <= 1 means no guidance (w in [0, 1] all give the conditional prediction)
        return {"prompt": opts.prompt or "", "negative_prompt": opts.negative_prompt, "guidance": guidance,
                "cfg": guidance > 1.0}

    # -------------------------------------------------------------------------------------------
    def _pipe(self, kind: str) -> Any:
        """img2img, or text2img / inpaint built from the same components (no second copy of the weights)."""
        if kind not in self._pipes:
            cls = {"text2img": StableDiffusionPipeline, "inpaint": StableDiffusionInpaintPipeline}[kind]
            pipe = cls(**self.img2img.components,
                       requires_safety_checker=bool(self.img2img.config.get("requires_safety_checker", False)))
            self._pipes[kind] = pipe
        pipe = self._pipes[kind]
        pipe.set_progress_bar_config(disable=True)
        if self.cpu_offload and self._offloaded is not pipe:
            pipe.enable_model_cpu_offload(device=self.device)
            self._offloaded = pipe
        return pipe

    def _call(self, kind: str, opts: SDEditOptions, seed: int, progress: Optional[ProgressCallback],
              guide: Optional[Image.Image] = None, mask: Optional[np.ndarray] = None, **kwargs: Any) -> RunOutput:
        if self.inpainting and kind != "inpaint":
            raise LatentStudioError("This is an inpainting checkpoint (9-channel UNet): it only runs with a mask.")
        cond = self.check_conditioning(opts)
        if "strength" in kwargs and steps_run(opts.steps, kwargs["strength"]) < 1:
            # diffusers' img2img/inpaint would run an empty schedule and decode the noised guide as the result
            raise LatentStudioError(zero_steps_message(opts.steps, kwargs["strength"]))
        pipe = self._pipe(kind)
        pipe.scheduler = make_scheduler(opts.scheduler, self.scheduler_config)
        recorded = _record_x0(pipe.scheduler)
        seen: list[int] = []
        previews: list[Image.Image] = []
        # total is known only inside the call; frame steps are computed on the first callback
        state: dict[str, Any] = {}

        def on_step_end(p: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            total = int(p.num_timesteps)
            wanted = state.setdefault("wanted", frame_steps(total, opts.frames))
            seen.append(int(t))
            preview = None
            if i in wanted:
                latents = recorded.get("x0")
                latents = tensors["latents"] if latents is None else latents
                preview = self._decode(p, latents[:1])
                if mask is not None and guide is not None:
                    preview = composite([preview], guide, mask)[0]
                previews.append(preview)
            report(progress, i + 1, total, preview)
            return {}

        out = pipe(prompt=cond["prompt"], negative_prompt=cond["negative_prompt"], num_inference_steps=opts.steps,
                   guidance_scale=cond["guidance"], eta=opts.eta, generator=generators(seed, opts.n),
                   num_images_per_prompt=opts.n, callback_on_step_end=on_step_end,
                   callback_on_step_end_tensor_inputs=["latents"], output_type="pil", **kwargs)
        images = [img.convert("RGB") for img in out.images]
        if mask is not None and guide is not None:
            images = composite(images, guide, mask)
        nsfw = out.nsfw_content_detected
        info = {"prompt": cond["prompt"], "negative_prompt": cond["negative_prompt"], "guidance": cond["guidance"],
                "cfg": cond["cfg"], "pipeline": type(pipe).__name__, "denoise_steps": len(seen),
                "t_start": seen[0] if seen else None}
        if nsfw is not None:
            info["nsfw_content_detected"] = [bool(x) for x in nsfw]
        return RunOutput(images=images, previews=previews, info=info)

    @torch.no_grad()
    def _decode(self, pipe: Any, latents: torch.Tensor) -> Image.Image:
        vae = pipe.vae
        x = vae.decode(latents.to(vae.device, vae.dtype) / vae.config.scaling_factor).sample
        return imaging.to_pil(x.float())[0]

    # -------------------------------------------------------------------------------------------
    def sdedit(self, guide: Image.Image, mask: Optional[np.ndarray], opts: SDEditOptions, seed: int,
               progress: Optional[ProgressCallback]) -> RunOutput:
        size = {"height": self.resolution, "width": self.resolution}
        if mask is not None:
            hard = (mask >= 0.5).astype(np.float32)  # diffusers binarises the mask; composite with the same one
            if not hard.any():
                raise LatentStudioError("The mask has no pixel at or above 50%: Stable Diffusion binarises masks, "
                                        "so nothing would be re-imagined.")
            mask_img = Image.fromarray((hard * 255).astype(np.uint8), mode="L")
            return self._call("inpaint", opts, seed, progress, guide, hard, image=guide, mask_image=mask_img,
                              strength=opts.strength, **size)
        if opts.strength >= 1.0:
            return self._call("text2img", opts, seed, progress, **size)
        return self._call("img2img", opts, seed, progress, image=guide, strength=opts.strength)

    def sample(self, opts: SDEditOptions, seed: int, progress: Optional[ProgressCallback]) -> RunOutput:
        return self._call("text2img", opts, seed, progress, height=self.resolution, width=self.resolution)

    def translate(self, image: Image.Image, opts: Any, progress: Optional[ProgressCallback]) -> RunOutput:
        """Prompt → prompt: DDIM inversion under ``opts.source_class`` (the source prompt), regeneration under
        ``opts.class_name`` (the target prompt) with the source prompt as the negative prompt
        (`sd_translate.StableDiffusionTranslatePipeline`)."""
        from .sd_translate import StableDiffusionTranslatePipeline
        if self.inpainting:
            raise LatentStudioError("This is an inpainting checkpoint (9-channel UNet): it cannot translate.")
        if "translate" not in self._pipes:
            self._pipes["translate"] = StableDiffusionTranslatePipeline(
                **self.img2img.components,
                requires_safety_checker=bool(self.img2img.config.get("requires_safety_checker", False)))
        pipe = self._pipes["translate"]
        x = imaging.to_tensor(image.resize((self.resolution,) * 2, Image.LANCZOS), device=self.device,
                              dtype=self.dtype)
        total = 2 * steps_run(opts.steps, opts.strength)
        inverted = pipe.invert(x, opts.source_class, opts.strength, opts.steps, opts.refine,
                               callback=lambda i, n: report(progress, i, total))
        out = pipe.regenerate(inverted.latents, opts.class_name, opts.source_class, opts.strength, opts.steps,
                              opts.guidance, callback=lambda i, n: report(progress, len(inverted.timesteps) + i, total))
        info = {"inversion_steps": len(inverted.timesteps), "denoise_steps": len(inverted.timesteps),
                "t_start": inverted.timesteps[-1], "cfg": opts.guidance > 1.0, "prompt": opts.class_name,
                "negative_prompt": opts.source_class}
        return RunOutput(images=imaging.to_pil(out), info=info)


def _record_x0(scheduler: Any) -> dict[str, Any]:
    """Wrap this (per-job) scheduler's ``step`` to keep its latest x0 prediction for previews, when it
    reports one (DDPM, DDIM, Euler, Heun …); DPM-Solver does not, and previews then decode the latents."""
    record: dict[str, Any] = {}
    step = scheduler.step

    @functools.wraps(step)  # keeps step's signature: pipelines inspect it to pass generator= and eta=
    def recording_step(*args: Any, **kwargs: Any) -> Any:
        out = step(*args, **kwargs)
        record["x0"] = (out[1] if isinstance(out, tuple) and len(out) > 1
                        else getattr(out, "pred_original_sample", None))
        return out

    scheduler.step = recording_step
    return record
