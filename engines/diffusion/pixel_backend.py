"""The diffusion engine's backend for our pixel-space model (`ClassConditionalPixelPipeline`).

Maps the engine's checked options onto the pipeline's own ``__call__`` (which does sampling and SDEdit):
guidance default, a fresh scheduler of the requested kind built from the model's own schedule (in a
pipeline view over the same UNet, so the loaded pipeline is never changed), per-sample generators,
and progress with x0 previews through ``callback_on_step_end``.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from .. import imaging
from ..base import LatentStudioError, ProgressCallback, report
from .backend import Backend, RunOutput, forwarded, frame_steps, generators
from .guide import mask_tensor
from .options import SDEditOptions, TranslateOptions
from .pixel_pipeline import DEFAULT_GUIDANCE, ClassConditionalPixelPipeline
from .schedulers import make_scheduler


class PixelBackend(Backend):
    """Our class-conditional (or an unconditional) pixel-space UNet with its DDPM schedule."""

    kind = "pixel"

    def __init__(self, pipe: ClassConditionalPixelPipeline, device: torch.device, dtype: torch.dtype) -> None:
        # cast only when needed: diffusers warns about casting a loaded model with .to(dtype)
        self.pipe = pipe.to(device) if pipe.unet.dtype == dtype else pipe.to(device=device, dtype=dtype)
        self.pipe.set_progress_bar_config(disable=True)
        self.pipe.unet.eval().requires_grad_(False)
        self.device, self.dtype = device, dtype

    resolution = forwarded("pipe", "resolution")
    classes = forwarded("pipe", "classes")

    @property
    def num_train_timesteps(self) -> int:
        return int(self.pipe.scheduler.config.num_train_timesteps)

    @property
    def default_guidance(self) -> float:
        return DEFAULT_GUIDANCE if self.pipe.null_class_id is not None else 1.0

    def conditioning(self) -> str:
        if not self.classes:
            return "unconditional"
        return f"class ({', '.join(self.classes)}; null class {self.pipe.null_class_id} for guidance)"

    def parameters(self) -> int:
        return sum(p.numel() for p in self.pipe.unet.parameters())

    def check_conditioning(self, opts: SDEditOptions) -> dict[str, Any]:
        if opts.prompt or opts.negative_prompt:
            hint = (f"use a class name instead ({', '.join(self.classes)})" if self.classes
                    else "it is unconditional")
            raise LatentStudioError(f"This model takes no text prompt: {hint}.")
        if not self.classes:
            if opts.class_name is not None:
                raise LatentStudioError(f"This model is unconditional: it has no classes (got class {opts.class_name!r}).")
            if opts.guidance is not None and opts.guidance != 1.0:
                raise LatentStudioError("Classifier-free guidance needs a class-conditional model; this one is "
                                        "unconditional (leave guidance unset or at 1).")
            return {"class_name": None, "guidance": 1.0}
        try:
            self.pipe.class_id(opts.class_name)
        except KeyError as exc:
            raise LatentStudioError(exc.args[0]) from None
        guidance = self.default_guidance if opts.guidance is None else opts.guidance
        return {"class_name": opts.class_name or self.classes[0], "guidance": guidance}

    def _run(self, guide: Optional[torch.Tensor], mask: Optional[torch.Tensor], opts: SDEditOptions, seed: int,
             progress: Optional[ProgressCallback], strength: float) -> RunOutput:
        cond = self.check_conditioning(opts)
        scheduler = make_scheduler(opts.scheduler, self.pipe.scheduler.config)
        pipe = ClassConditionalPixelPipeline(**{**self.pipe.components, "scheduler": scheduler},
                                             class_names=self.pipe.classes)
        previews: list[torch.Tensor] = []
        wanted: list[set[int]] = []  # the frame steps, once the pipeline knows how many steps run

        def on_step_end(p: ClassConditionalPixelPipeline, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if not wanted:
                wanted.append(frame_steps(p.num_timesteps, opts.frames))
            preview = None
            if i in wanted[0]:
                previews.append(tensors["pred_original_sample"][:1].float().cpu())
                preview = imaging.to_pil(previews[-1])[0] if progress is not None else None
            report(progress, i + 1, p.num_timesteps, preview)
            return {}

        out = pipe(image=guide, mask_image=mask, strength=strength, num_inference_steps=opts.steps,
                   guidance_scale=cond["guidance"], class_labels=cond["class_name"], eta=opts.eta,
                   generator=generators(seed, opts.n), output_type="pt", callback_on_step_end=on_step_end,
                   callback_on_step_end_tensor_inputs=["pred_original_sample"] if opts.frames else [])
        info = {**cond, "cfg": out.guided, "denoise_steps": len(out.timesteps),
                "t_start": out.timesteps[0] if out.timesteps else None}
        return RunOutput(images=imaging.to_pil(out.images), previews=[imaging.to_pil(p)[0] for p in previews],
                         info=info)

    def sdedit(self, guide: Image.Image, mask: Optional[np.ndarray], opts: SDEditOptions, seed: int,
               progress: Optional[ProgressCallback]) -> RunOutput:
        x = imaging.to_tensor(guide, device=self.device, dtype=self.dtype)
        return self._run(x, mask_tensor(mask, self.device, self.dtype), opts, seed, progress, opts.strength)

    def sample(self, opts: SDEditOptions, seed: int, progress: Optional[ProgressCallback]) -> RunOutput:
        return self._run(None, None, opts, seed, progress, 1.0)

    def translate(self, image: Image.Image, opts: TranslateOptions, progress: Optional[ProgressCallback]) -> RunOutput:
        """DDIM inversion under the source class (guidance 1, ``opts.refine`` fixed-point iterations per step), then
        DDIM (eta 0) under the target class with guidance ``s + w·(t − s)``: the source class stands in for the null
        class, so the target = source round trip is exact whatever w (`ClassConditionalPixelPipeline.invert`)."""
        from diffusers import DDIMScheduler
        pipe = ClassConditionalPixelPipeline(
            **{**self.pipe.components, "scheduler": DDIMScheduler.from_config(self.pipe.scheduler.config)},
            class_names=self.pipe.classes)
        x = imaging.to_tensor(image, device=self.device, dtype=self.dtype)
        total = 2 * int(opts.steps * opts.strength)
        inverted = pipe.invert(x, strength=opts.strength, num_inference_steps=opts.steps,
                               class_labels=opts.source_class, fixed_point_iterations=opts.refine,
                               callback=lambda i, n: report(progress, i, total))

        def on_step_end(p: ClassConditionalPixelPipeline, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            report(progress, len(inverted.timesteps) + i + 1, total)
            return {}

        out = pipe(latents=inverted.latents, strength=opts.strength, num_inference_steps=opts.steps,
                   guidance_scale=opts.guidance, class_labels=opts.class_name, negative_class_labels=opts.source_class,
                   eta=0.0, output_type="pt", callback_on_step_end=on_step_end, callback_on_step_end_tensor_inputs=[])
        info = {"inversion_steps": len(inverted.timesteps), "denoise_steps": len(out.timesteps),
                "t_start": out.timesteps[0], "cfg": out.guided}
        return RunOutput(images=imaging.to_pil(out.images), info=info)
