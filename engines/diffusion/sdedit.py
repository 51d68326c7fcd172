"""SDEdit for our pixel-space model: noise the guide to a timestep, then denoise it with any scheduler.

Everything numerical is the scheduler's own (``set_timesteps``, ``add_noise``, ``scale_model_input``,
``step(..., generator=...)``, ``init_noise_sigma``); this module only decides *which* timesteps
(`options.plan_timesteps`, diffusers' img2img rule), batches the conditional and unconditional
halves of classifier-free guidance into one forward, and, with a mask, pastes the guide — re-noised
to the current timestep — back outside it after every step (SDEdit's masked editing), so the final
image is exactly the guide there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch
from diffusers.utils.torch_utils import randn_tensor

from .. import imaging
from ..base import LatentStudioError, ProgressCallback, report
from .options import plan_timesteps, zero_steps_message
from .schedulers import takes_eta, takes_generator


@dataclass
class DenoiseOutput:
    """Final samples [n, C, H, W] in [-1, 1], x0 previews of sample 0 at the frame steps, what ran."""
    images: torch.Tensor
    previews: list[torch.Tensor] = field(default_factory=list)
    timesteps: list[int] = field(default_factory=list)
    cfg: bool = False


def guided_eps(unet: Any, x_in: torch.Tensor, t: torch.Tensor, class_ids: Optional[Sequence[Optional[int]]],
               null_id: Optional[int], guidance: float) -> torch.Tensor:
    """The UNet's prediction with classifier-free guidance ``eps_u + w·(eps_c − eps_u)``.

    Conditional and unconditional (null class) halves go through the UNet as one batch; with
    ``w == 1`` (or an unconditional model) the unconditional half is skipped entirely.
    """
    if class_ids is None or class_ids[0] is None:  # unconditional model
        return unet(x_in, t).sample
    labels = _labels(class_ids, x_in.device)
    if null_id is None or guidance == 1.0:
        return unet(x_in, t, class_labels=labels).sample
    null = torch.full_like(labels, int(null_id))
    eps_c, eps_u = unet(torch.cat([x_in, x_in]), t, class_labels=torch.cat([labels, null])).sample.chunk(2)
    return eps_u + guidance * (eps_c - eps_u)


def _labels(class_ids: Sequence[Optional[int]], device: torch.device) -> torch.Tensor:
    return torch.tensor([int(c) for c in class_ids], dtype=torch.long, device=device)


def predict_x0(scheduler: Any, step_output: Any, model_output: torch.Tensor, sample: torch.Tensor,
               t: torch.Tensor) -> torch.Tensor:
    """The scheduler's x0 prediction when it reports one, else from the model output (VP schedulers,
    e.g. DPM-Solver, whose samples are ``sqrt(ᾱ)·x0 + sqrt(1 − ᾱ)·ε``)."""
    pred = getattr(step_output, "pred_original_sample", None)
    if pred is not None:
        return pred
    a = scheduler.alphas_cumprod.to(sample.device)[int(t)].to(sample.dtype)
    kind = scheduler.config.prediction_type
    if kind == "sample":
        return model_output
    if kind == "v_prediction":
        return a.sqrt() * sample - (1 - a).sqrt() * model_output
    return (sample - (1 - a).sqrt() * model_output) / a.sqrt().clamp_min(1e-4)


def frame_steps(total: int, frames: int) -> set[int]:
    """Indices (0-based) of the ``frames`` evenly spaced steps whose x0 predictions become previews."""
    if frames <= 0 or total <= 0:
        return set()
    return {int(i) for i in np.linspace(0, total - 1, min(frames, total)).round()}


@torch.no_grad()
def denoise(unet: Any, scheduler: Any, *, guide: Optional[torch.Tensor], mask: Optional[torch.Tensor],
            class_ids: Sequence[Optional[int]], null_id: Optional[int], guidance: float, steps: int,
            strength: float, generators: Any = None, eta: float = 0.0, device: torch.device | str = "cpu",
            frames: int = 0, progress: Optional[ProgressCallback] = None) -> DenoiseOutput:
    """Run SDEdit (``guide`` [1, C, H, W] in [-1, 1]) or, with ``guide=None``, sampling from noise.

    ``strength`` 1 starts from pure noise (``randn · init_noise_sigma``), so it does not depend on the
    guide; below 1 the guide is noised with ``scheduler.add_noise`` to the first planned timestep.
    ``mask`` [1, 1, H, W] (1 = re-imagine) needs a guide. ``generators``: one per sample (sample i is
    then the same whatever the batch), one for all, or None.
    """
    n = len(class_ids)
    size = unet.config.sample_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    shape = (n, unet.config.in_channels, *size)
    dtype = unet.dtype
    if guide is None and (mask is not None or strength < 1.0):
        raise LatentStudioError("SDEdit below strength 1, or with a mask, needs a guide image.")
    timesteps, _ = plan_timesteps(scheduler, steps, strength, device)
    if not len(timesteps):  # int(steps × strength) == 0 would return an empty batch, not the guide
        raise LatentStudioError(zero_steps_message(steps, strength))
    noise = randn_tensor(shape, generator=generators, device=torch.device(device), dtype=dtype)
    x0 = guide.to(device=device, dtype=dtype).expand(shape) if guide is not None else None
    if x0 is None or strength >= 1.0:
        x = noise * scheduler.init_noise_sigma
    else:
        x = scheduler.add_noise(x0, noise, timesteps[:1].repeat(n))
    m = mask.to(device=device, dtype=dtype) if mask is not None else None
    step_kwargs: dict[str, Any] = {}
    if takes_generator(scheduler):
        step_kwargs["generator"] = generators
    if takes_eta(scheduler):
        step_kwargs["eta"] = eta
    cfg = null_id is not None and class_ids[0] is not None and guidance != 1.0
    wanted = frame_steps(len(timesteps), frames)
    previews: list[torch.Tensor] = []
    for i, t in enumerate(timesteps):
        x_in = scheduler.scale_model_input(x, t)
        eps = guided_eps(unet, x_in, t, class_ids, null_id, guidance)
        out = scheduler.step(eps, t, x, **step_kwargs)
        x_prev = out.prev_sample
        if m is not None:
            if i < len(timesteps) - 1:  # the guide at the next timestep, with fresh noise (SDEdit, Alg. 3)
                fresh = randn_tensor(shape, generator=generators, device=torch.device(device), dtype=dtype)
                known = scheduler.add_noise(x0, fresh, timesteps[i + 1:i + 2].repeat(n))
            else:
                known = x0
            x_prev = m * x_prev + (1 - m) * known
        preview = None
        if i in wanted:
            pred = predict_x0(scheduler, out, eps, x, t)[:1].clamp(-1, 1)
            if m is not None:
                pred = m * pred + (1 - m) * x0[:1]
            previews.append(pred.float().cpu())
            preview = imaging.to_pil(previews[-1])[0] if progress is not None else None
        x = x_prev
        report(progress, i + 1, len(timesteps), preview)
    if m is not None:  # exactly the guide outside the mask, whatever the scheduler's last step did
        x = m * x + (1 - m) * x0
    return DenoiseOutput(images=x.clamp(-1, 1), previews=previews, timesteps=[int(t) for t in timesteps], cfg=cfg)
