"""DDIM inversion and prompt-to-prompt translation for Stable Diffusion, as a diffusers pipeline that owns its loops.

`StableDiffusionTranslatePipeline` is diffusers' ``StableDiffusionPipeline`` (same components, built over a loaded
one without copying weights) with two more calls, the latent-space twins of `ClassConditionalPixelPipeline.invert`
and its ``latents=`` regeneration:

- ``invert(image, prompt, strength, steps, fixed_point_iterations)``: the VAE's latent mean of the image, run up the
  first ``int(steps × strength)`` timesteps with diffusers' `DDIMInverseScheduler` under ``prompt`` (no guidance),
  each UNet output taken as ε for the sample it saw (`to_epsilon`), with optional fixed-point refinement;
- ``regenerate(latents, prompt, negative_prompt, strength, steps, guidance_scale)``: DDIM (eta 0) down the same
  timesteps under classifier-free guidance ``u + w·(c − u)`` where u is the *negative prompt's* prediction; with the
  source prompt as the negative prompt, regenerating under the source prompt gives the inversion back whatever w
  (negative-prompt inversion, Miyake et al. 2023), and another prompt translates (prompt → prompt).
Core code: tensors in, tensors out; the backend (`stable_diffusion.py`) turns images into tensors.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler, StableDiffusionPipeline

from .pixel_pipeline import InversionOutput, to_epsilon
from .schedulers import config_for
from .strength import plan_timesteps, steps_run, zero_steps_message


class StableDiffusionTranslatePipeline(StableDiffusionPipeline):
    """Stable Diffusion with DDIM inversion (`invert`) and regeneration from an inversion (`regenerate`)."""

    def _embeddings(self, prompt: str, negative_prompt: Optional[str], guided: bool) -> tuple[torch.Tensor, Any]:
        cond, uncond = self.encode_prompt(prompt, self._execution_device, 1, guided, negative_prompt)
        return cond, uncond

    @torch.no_grad()
    def invert(self, image: torch.Tensor, prompt: str = "", strength: float = 1.0, num_inference_steps: int = 50,
               fixed_point_iterations: int = 0, callback: Optional[Callable[[int, int], None]] = None
               ) -> InversionOutput:
        """``image`` [1, 3, H, W] in [-1, 1] → the latents at strength ``strength``'s first timestep from which
        `regenerate` (same steps and strength, ``prompt`` as prompt or negative prompt) gives it back."""
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}.")
        device = self._execution_device
        x = image.to(device=device, dtype=self.vae.dtype)
        latents = self.vae.encode(x).latent_dist.mean * self.vae.config.scaling_factor
        cond, _ = self._embeddings(prompt, None, False)
        inverse = DDIMInverseScheduler.from_config(config_for(DDIMInverseScheduler, self.scheduler.config),
                                                   prediction_type="epsilon", clip_sample=False)
        inverse.set_timesteps(num_inference_steps, device=device)
        timesteps = inverse.timesteps[:steps_run(num_inference_steps, strength)]
        if not len(timesteps):
            raise ValueError(zero_steps_message(num_inference_steps, strength))
        for i, t in enumerate(timesteps):
            estimate = latents
            for _ in range(1 + int(fixed_point_iterations)):
                output = self.unet(inverse.scale_model_input(estimate, t), t, encoder_hidden_states=cond).sample
                eps = to_epsilon(self.scheduler, output, estimate, t)  # the model's own prediction type
                estimate = inverse.step(eps, t, latents).prev_sample
            latents = estimate
            if callback is not None:
                callback(i + 1, len(timesteps))
        return InversionOutput(latents=latents, timesteps=[int(t) for t in timesteps])

    @torch.no_grad()
    def regenerate(self, latents: torch.Tensor, prompt: str, negative_prompt: Optional[str] = None,
                   strength: float = 1.0, num_inference_steps: int = 50, guidance_scale: float = 7.5,
                   callback: Optional[Callable[[int, int], None]] = None) -> torch.Tensor:
        """DDIM (eta 0) from ``latents`` (`invert`'s, same steps and strength) under ``prompt``, guided away from
        ``negative_prompt`` when ``guidance_scale`` > 1 → images [N, 3, H, W] in [-1, 1]."""
        scheduler = DDIMScheduler.from_config(config_for(DDIMScheduler, self.scheduler.config))
        timesteps, _ = plan_timesteps(scheduler, num_inference_steps, strength, self._execution_device)
        guided = guidance_scale > 1.0
        cond, uncond = self._embeddings(prompt, negative_prompt, guided)
        embeddings = torch.cat([uncond, cond]) if guided else cond
        x = latents
        for i, t in enumerate(timesteps):
            x_in = scheduler.scale_model_input(torch.cat([x, x]) if guided else x, t)
            output = self.unet(x_in, t, encoder_hidden_states=embeddings).sample
            if guided:
                u, c = output.chunk(2)
                output = u + guidance_scale * (c - u)
            x = scheduler.step(output, t, x).prev_sample
            if callback is not None:
                callback(i + 1, len(timesteps))
        image = self.vae.decode(x / self.vae.config.scaling_factor).sample
        return image.float().clamp(-1, 1)
