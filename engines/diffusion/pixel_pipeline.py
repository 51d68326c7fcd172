"""Our pixel-space diffusion model as a real diffusers pipeline, SDEdit included, and its default configuration.

A `ClassConditionalPixelPipeline` is a ``UNet2DModel`` (class-conditional through ``num_class_embeds``)
plus a scheduler, registered with ``register_modules`` so ``save_pretrained`` / ``from_pretrained``
work as for any diffusers model (safetensors weights, ``model_index.json``). The class names live
in ``model_index.json`` too; class ids are their positions, and the extra id ``len(classes)`` is the
*null* class that classifier-free guidance uses as "unconditional" (trained with label dropout).

Its ``__call__`` is sampling *and* SDEdit, like diffusers' img2img / inpaint pipelines in one: no
``image`` samples from noise; an ``image`` is noised to the strength's first timestep and denoised;
a ``mask_image`` keeps the image outside the mask (the known region is re-noised to each next
timestep and pasted back, SDEdit's masked editing / RePaint). Everything numerical is the
scheduler's own (``set_timesteps``, ``add_noise``, ``scale_model_input``, ``step``); the timesteps
follow diffusers' img2img rule (`strength.plan_timesteps`). Core code: networks, schedulers and
tensors only — the engine turns images and files into tensors and builds results.

`DEFAULT_UNET_CONFIG` / `DEFAULT_SCHEDULER_CONFIG` are the architecture a new training run builds (what
``weights/ddpm-cats64`` was trained with).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
import PIL.Image
import torch
from diffusers import DDIMInverseScheduler, DDPMScheduler, DiffusionPipeline, ImagePipelineOutput, UNet2DModel
from diffusers.utils import BaseOutput
from diffusers.image_processor import VaeImageProcessor
from diffusers.utils.torch_utils import randn_tensor

from .schedulers import config_for
from .strength import plan_timesteps, zero_steps_message

#: Classes of the default model (ids 0, 1; id 2 is the null class for guidance).
DEFAULT_CLASSES = ("cat", "grumpy cat")

#: Guidance scale for our model when none is given (w = 1: no guidance; SD's default is 7.5).
DEFAULT_GUIDANCE = 3.0

#: The default 64×64 class-conditional UNet, sized for training and sampling on a CPU: 32→128 channels,
#: one resnet per level, attention at 8×8 only; 4.3 M parameters (8.7 MB in fp16). Measured on 2 CPU
#: cores (AVX2, torch 2.14): 14 training img/s, and 50 DDIM steps of one image with guidance ≈ 3.0 s.
#: Measured beside it: the earlier (32, 64, 128, 256) × 2 resnets with attention at 16 and 8, 15.8 M,
#: 6.4 img/s and 5.8 s; (32, 64, 128, 256) × 1 with attention at 8, 10.7 M, 8.8 img/s and 4.6 s.
DEFAULT_UNET_CONFIG: dict[str, Any] = dict(
    sample_size=64,
    in_channels=3,
    out_channels=3,
    block_out_channels=(32, 64, 128, 128),
    layers_per_block=1,
    down_block_types=("DownBlock2D", "DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D", "UpBlock2D"),
    attention_head_dim=32,
    norm_num_groups=32,
    num_class_embeds=len(DEFAULT_CLASSES) + 1,
)

#: The training noise schedule: cosine betas (better than linear at 64 px), v prediction (well-posed
#: where the cosine schedule's ᾱ reaches ≈ 0; see `train.py`), and "trailing" spacing so a strength s starts near timestep s·T and strength 1 starts at T − 1.
DEFAULT_SCHEDULER_CONFIG: dict[str, Any] = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",
    prediction_type="v_prediction",
    clip_sample=True,
    clip_sample_range=1.0,
    variance_type="fixed_small",
    timestep_spacing="trailing",
)


@dataclass
class InversionOutput(BaseOutput):
    """``latents`` [N, C, H, W]: the noisy samples that DDIM regenerates the images from, at timestep ``timesteps[-1]``
    (``timesteps``: those the inversion ran, ascending)."""
    latents: torch.Tensor
    timesteps: list[int]


def to_epsilon(scheduler: Any, model_output: torch.Tensor, sample: torch.Tensor, t: Any) -> torch.Tensor:
    """The model output as predicted noise ε, whatever the scheduler's ``prediction_type``, for ``sample`` at ``t``
    (v: ε = √ᾱ·v + √(1−ᾱ)·x; sample: ε = (x − √ᾱ·x0) / √(1−ᾱ))."""
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return model_output
    a = scheduler.alphas_cumprod.to(sample.device)[int(t)].to(sample.dtype)
    if kind == "v_prediction":
        return a.sqrt() * model_output + (1 - a).sqrt() * sample
    return (sample - a.sqrt() * model_output) / (1 - a).sqrt().clamp_min(1e-4)


@dataclass
class PixelPipelineOutput(ImagePipelineOutput):
    """``images``: PIL images (``output_type="pil"``), float [N, H, W, C] in [0, 1] ("np"), or a tensor
    [N, C, H, W] in [-1, 1] ("pt", the project's convention); ``timesteps``: those that ran;
    ``guided``: whether classifier-free guidance ran (both halves through the UNet)."""
    timesteps: Optional[list[int]] = None
    guided: Optional[bool] = None


ImageInput = Union[torch.Tensor, np.ndarray, PIL.Image.Image, Sequence[PIL.Image.Image]]


def guided_model_output(unet: Any, x_in: torch.Tensor, t: torch.Tensor, labels: Optional[torch.Tensor],
                        null_id: Optional[int], guidance: float,
                        negative: Optional[torch.Tensor] = None) -> torch.Tensor:
    """The UNet's prediction with classifier-free guidance ``u + w·(c − u)`` (c: conditional, u: null class, or
    the ``negative`` classes where given — a negative prompt's role, e.g. the source class when translating).

    Conditional and unconditional halves go through the UNet as one batch; with ``w == 1`` (or no
    null class) the unconditional half is skipped; ``labels`` None = an unconditional UNet.
    """
    if labels is None:
        return unet(x_in, t).sample
    if null_id is None or guidance == 1.0:
        return unet(x_in, t, class_labels=labels).sample
    null = negative if negative is not None else torch.full_like(labels, int(null_id))
    cond, uncond = unet(torch.cat([x_in, x_in]), t, class_labels=torch.cat([labels, null])).sample.float().chunk(2)
    return (uncond + guidance * (cond - uncond)).to(x_in.dtype)  # combined in float32: bf16 would round w·(c − u)


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


class ClassConditionalPixelPipeline(DiffusionPipeline):
    """Class-conditional (or unconditional) pixel-space DDPM: ``pipe(class_labels=[...])`` samples images,
    ``pipe(image, strength=0.6)`` is SDEdit, ``pipe(image, mask_image, strength=...)`` masked SDEdit.

    ``class_names`` (saved in ``model_index.json``) name the class ids; the UNet must then have
    ``num_class_embeds == len(class_names) + 1`` (the last id is the null class). An unconditional
    UNet (no ``num_class_embeds``) takes no class names. To sample with another scheduler, build a
    pipeline over the same UNet: ``ClassConditionalPixelPipeline(**{**pipe.components, "scheduler": s},
    class_names=pipe.classes)`` (no copy of the weights).
    """

    model_cpu_offload_seq = "unet"
    _callback_tensor_inputs = ["latents", "pred_original_sample"]

    def __init__(self, unet: UNet2DModel, scheduler: Any, class_names: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        names = [str(c) for c in (class_names or [])]
        embeds = unet.config.num_class_embeds
        if embeds is None and names:
            raise ValueError(f"class_names {names} given but the UNet has no class embedding (num_class_embeds).")
        if embeds is not None and (not names or embeds != len(names) + 1):
            raise ValueError(f"The UNet has {embeds} class embeddings but {len(names)} class names: "
                             "it needs one per class plus the null class.")
        if len(set(names)) != len(names):
            raise ValueError(f"Class names must be unique, got {names}.")
        self.register_modules(unet=unet, scheduler=scheduler)
        self.register_to_config(class_names=names)

    @property
    def classes(self) -> list[str]:
        return list(self.config.class_names or [])

    @property
    def null_class_id(self) -> Optional[int]:
        """The id used for the unconditional half of classifier-free guidance (None: unconditional UNet)."""
        return len(self.classes) if self.classes else None

    def class_id(self, name: Optional[str]) -> Optional[int]:
        """Class name → id (None → the first class); unknown names raise ``KeyError`` listing the known ones."""
        if not self.classes:
            return None
        if name is None:
            return 0
        if name not in self.classes:
            raise KeyError(f"Unknown class {name!r}: this model knows {', '.join(repr(c) for c in self.classes)}.")
        return self.classes.index(name)

    @property
    def resolution(self) -> int:
        return self.sample_size[0]

    @property
    def sample_size(self) -> tuple[int, int]:
        """(height, width) of the images the UNet works on."""
        size = self.unet.config.sample_size
        return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))

    @property
    def num_timesteps(self) -> int:
        """Denoising steps of the current (or last) call."""
        return getattr(self, "_num_timesteps", 0)

    def class_ids(self, class_labels: Any, n: int) -> Optional[list[int]]:
        """Names (or ids) → ids for ``n`` images: one label for all, one per image, or None (the first class).
        None for an unconditional UNet."""
        if not self.classes:
            return None
        labels = list(class_labels) if isinstance(class_labels, (list, tuple)) else [class_labels] * n
        if len(labels) != n:
            raise ValueError(f"{len(labels)} class labels for {n} images.")
        ids = []
        for label in labels:
            if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
                if not 0 <= int(label) <= len(self.classes):
                    raise ValueError(f"Class id {label} is out of range: this model has ids 0-{len(self.classes)} "
                                     f"({len(self.classes)} = the null class).")
                ids.append(int(label))
            else:
                ids.append(self.class_id(label))
        return ids

    def prepare_extra_step_kwargs(self, generator: Any, eta: float) -> dict[str, Any]:
        """``generator`` for schedulers that draw noise, ``eta`` for those that take it (DDIM)."""
        params = set(inspect.signature(self.scheduler.step).parameters)
        kwargs: dict[str, Any] = {}
        if "generator" in params:
            kwargs["generator"] = generator
        if "eta" in params:
            kwargs["eta"] = eta
        return kwargs

    def _to_tensor(self, image: Any, mask: bool = False) -> torch.Tensor:
        """Tensors as they are ([-1, 1] images, [0, 1] masks; a missing batch/channel axis is added);
        PIL images and numpy arrays (uint8, or float in [0, 1]) converted at this boundary."""
        if isinstance(image, torch.Tensor):
            x = image
        elif isinstance(image, np.ndarray):
            arr = image.astype(np.float32) / 255.0 if image.dtype == np.uint8 else image.astype(np.float32)
            x = torch.from_numpy(arr[..., None] if mask and arr.ndim == 2 else arr)
            x = x.permute(2, 0, 1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        else:
            images = [image] if isinstance(image, PIL.Image.Image) else list(image)
            images = [im.convert("L" if mask else "RGB") for im in images]
            x = VaeImageProcessor.numpy_to_pt(VaeImageProcessor.pil_to_numpy(images))
        if not mask and not isinstance(image, torch.Tensor):
            x = VaeImageProcessor.normalize(x)
        while x.ndim < 4:
            x = x[None]
        size = self.sample_size
        if tuple(x.shape[-2:]) != size:
            what = "mask_image" if mask else "image"
            raise ValueError(f"{what} is {x.shape[-1]}×{x.shape[-2]} but this model works at {size[1]}×{size[0]}.")
        return x

    @torch.no_grad()
    def __call__(self, image: Optional[ImageInput] = None, mask_image: Optional[ImageInput] = None,
                 strength: float = 1.0, num_inference_steps: int = 50, guidance_scale: float = DEFAULT_GUIDANCE,
                 class_labels: Any = None, eta: float = 0.0, generator: Any = None, batch_size: int = 1,
                 output_type: str = "pil", return_dict: bool = True, latents: Optional[torch.Tensor] = None,
                 negative_class_labels: Any = None,
                 callback_on_step_end: Optional[Callable[..., dict[str, Any]]] = None,
                 callback_on_step_end_tensor_inputs: Sequence[str] = ("latents",)) -> Any:
        """Sample (no ``image``) or SDEdit ``image`` from ``t0 ≈ strength × T``.

        ``image``: a tensor [1 or N, C, H, W] in [-1, 1], or PIL / uint8 arrays (converted here); None
        samples from noise (``strength`` is then 1). ``mask_image`` ([H, W] … [N, 1, H, W] in [0, 1], or
        PIL "L"; 1 = re-imagine) needs an ``image``: outside the mask the result is exactly the image.
        ``strength`` 1 starts from pure noise (``randn · init_noise_sigma``, independent of the image);
        below 1 the image is noised with ``scheduler.add_noise`` to the first of the last
        ``int(num_inference_steps × strength)`` timesteps (none: ``ValueError``). ``class_labels``: a
        name or id for every image, or one per image (default: the first class). ``guidance_scale`` w:
        ``u + w·(c − u)``; 1 = no guidance. ``generator``: one ``torch.Generator`` for the batch or one per
        image (image i is then the same whatever the batch); the batch is ``len(generator)``, else
        ``len(class_labels)``, else ``batch_size``. ``callback_on_step_end(pipe, i, t, tensors)`` runs after
        every step with the requested ``tensors`` — "latents" (the sample; a returned "latents"
        replaces it) and "pred_original_sample" (the x0 prediction in [-1, 1], with the image pasted
        outside the mask). ``output_type``: "pil", "np" ([0, 1]) or "pt" ([-1, 1]). ``latents``: the noisy sample
        at the strength's first timestep (`invert`'s output), used instead of noising ``image``.
        ``negative_class_labels``: classes whose prediction stands in for the null class's under guidance (the
        source class when translating: it regenerates an inversion exactly whatever the guidance).
        """
        for name in callback_on_step_end_tensor_inputs:
            if name not in self._callback_tensor_inputs:
                raise ValueError(f"callback_on_step_end_tensor_inputs: {name!r} is not one of "
                                 f"{self._callback_tensor_inputs}.")
        if output_type not in ("pil", "np", "pt"):
            raise ValueError(f"output_type must be 'pil', 'np' or 'pt', got {output_type!r}.")
        if image is None:
            if mask_image is not None:
                raise ValueError("mask_image needs an image: outside the mask the image is kept.")
            strength = 1.0 if latents is None else strength
        if not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be in [0, 1], got {strength}.")
        if isinstance(generator, list):
            n = len(generator)
        elif latents is not None:
            n = latents.shape[0]
        elif isinstance(class_labels, (list, tuple)):
            n = len(class_labels)
        else:
            n = batch_size
        ids = self.class_ids(class_labels, n)
        # The sample and the scheduler's arithmetic stay float32 whatever the UNet's dtype, and the noise is drawn in
        # float32: a seed then gives the same image in bf16/fp16 as in fp32, up to the UNet's rounding.
        device, dtype, unet_dtype = self._execution_device, torch.float32, self.unet.dtype
        shape = (n, self.unet.config.in_channels, *self.sample_size)
        x0 = None
        if image is not None:
            x0 = self._to_tensor(image)
            if x0.shape[0] not in (1, n):
                raise ValueError(f"{x0.shape[0]} images for a batch of {n}.")
            x0 = x0.to(device=device, dtype=dtype).expand(shape)
        m = self._to_tensor(mask_image, mask=True).to(device=device, dtype=dtype) if mask_image is not None else None

        timesteps, _ = plan_timesteps(self.scheduler, num_inference_steps, strength, device)
        if not len(timesteps):  # int(steps × strength) == 0 would return an empty batch, not the image
            raise ValueError(zero_steps_message(num_inference_steps, strength))
        self._num_timesteps = len(timesteps)
        noise = randn_tensor(shape, generator=generator, device=torch.device(device), dtype=dtype)
        if latents is not None:
            if tuple(latents.shape) != shape:
                raise ValueError(f"latents of shape {list(latents.shape)} for a batch of shape {list(shape)}.")
            x = latents.to(device=device, dtype=dtype)
        elif x0 is None or strength >= 1.0:
            x = noise * self.scheduler.init_noise_sigma
        else:
            x = self.scheduler.add_noise(x0, noise, timesteps[:1].repeat(n))
        labels = torch.tensor(ids, dtype=torch.long, device=device) if ids is not None else None
        null_id = self.null_class_id
        guided = labels is not None and null_id is not None and guidance_scale != 1.0
        negative = (torch.tensor(self.class_ids(negative_class_labels, n), dtype=torch.long, device=device)
                    if negative_class_labels is not None and labels is not None else None)
        step_kwargs = self.prepare_extra_step_kwargs(generator, eta)
        for i, t in enumerate(timesteps):
            x_in = self.scheduler.scale_model_input(x, t)
            model_output = guided_model_output(self.unet, x_in.to(unet_dtype), t, labels, null_id, guidance_scale,
                                               negative).to(dtype)
            out = self.scheduler.step(model_output, t, x, **step_kwargs)
            x_prev = out.prev_sample
            if m is not None:
                if i < len(timesteps) - 1:  # the image at the next timestep, with fresh noise (SDEdit, Alg. 3)
                    fresh = randn_tensor(shape, generator=generator, device=torch.device(device), dtype=dtype)
                    known = self.scheduler.add_noise(x0, fresh, timesteps[i + 1:i + 2].repeat(n))
                else:
                    known = x0
                x_prev = m * x_prev + (1 - m) * known
            if callback_on_step_end is not None:
                tensors: dict[str, Any] = {}
                if "latents" in callback_on_step_end_tensor_inputs:
                    tensors["latents"] = x_prev
                if "pred_original_sample" in callback_on_step_end_tensor_inputs:
                    pred = predict_x0(self.scheduler, out, model_output, x, t).clamp(-1, 1)
                    tensors["pred_original_sample"] = pred if m is None else m * pred + (1 - m) * x0
                x_prev = (callback_on_step_end(self, i, t, tensors) or {}).pop("latents", x_prev)
            x = x_prev
        if m is not None:  # exactly the image outside the mask, whatever the scheduler's last step did
            x = m * x + (1 - m) * x0
        images: Any = x.clamp(-1, 1)
        if output_type != "pt":
            images = ((images + 1) / 2).cpu().permute(0, 2, 3, 1).float().numpy()
            if output_type == "pil":
                images = self.numpy_to_pil(images)
        self.maybe_free_model_hooks()
        if not return_dict:
            return (images,)
        return PixelPipelineOutput(images=images, timesteps=[int(t) for t in timesteps], guided=guided)

    @torch.no_grad()
    def invert(self, image: ImageInput, strength: float = 1.0, num_inference_steps: int = 50,
               class_labels: Any = None, guidance_scale: float = 1.0, fixed_point_iterations: int = 0,
               callback: Optional[Callable[[int, int], None]] = None) -> InversionOutput:
        """DDIM inversion: the noisy samples at strength ``strength``'s first timestep from which a deterministic
        DDIM (eta 0, same steps and strength) regenerates ``image`` — pass them as ``latents`` to ``__call__``.

        diffusers' `DDIMInverseScheduler` over this model's schedule runs the first ``int(steps × strength)``
        timesteps of the ``steps``-step schedule upward. The UNet's output is turned into ε for the sample it saw
        (`to_epsilon`), so the inverse step is the exact algebraic inverse of the DDIM step for every prediction
        type (diffusers' inverse scheduler converts a v prediction with the wrong timestep's ᾱ). DDIM inversion
        evaluates the UNet at x_{t−1} where the DDIM step will evaluate it at x_t; ``fixed_point_iterations`` k
        re-evaluates it at the current estimate of x_t k more times (Pan et al. 2023, AIDI; "ReNoise"), which
        closes most of that gap for k + 1 times the UNet calls. Invert with ``guidance_scale`` 1 (the default) and
        regenerate with ``negative_class_labels`` = the same classes, and the round trip holds under any guidance
        (negative-prompt inversion, Miyake et al. 2023, in class form). ``callback(i, total)`` after every step.
        """
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}.")
        x = self._to_tensor(image).to(device=self._execution_device, dtype=self.unet.dtype)
        n = x.shape[0]
        ids = self.class_ids(class_labels, n)
        labels = torch.tensor(ids, dtype=torch.long, device=x.device) if ids is not None else None
        inverse = DDIMInverseScheduler.from_config(config_for(DDIMInverseScheduler, self.scheduler.config),
                                                   prediction_type="epsilon", clip_sample=False)
        inverse.set_timesteps(num_inference_steps, device=x.device)
        timesteps = inverse.timesteps[:min(int(num_inference_steps * strength), num_inference_steps)]
        if not len(timesteps):
            raise ValueError(zero_steps_message(num_inference_steps, strength))
        for i, t in enumerate(timesteps):
            estimate = x
            for _ in range(1 + int(fixed_point_iterations)):
                output = guided_model_output(self.unet, inverse.scale_model_input(estimate, t), t, labels,
                                             self.null_class_id, guidance_scale)
                estimate = inverse.step(to_epsilon(self.scheduler, output, estimate, t), t, x).prev_sample
            x = estimate
            if callback is not None:
                callback(i + 1, len(timesteps))
        return InversionOutput(latents=x, timesteps=[int(t) for t in timesteps])


def build_pixel_pipeline(unet_config: Optional[dict[str, Any]] = None,
                         scheduler_config: Optional[dict[str, Any]] = None,
                         class_names: Sequence[str] = DEFAULT_CLASSES, seed: int = 0) -> ClassConditionalPixelPipeline:
    """A randomly initialised pipeline from configs (defaults: ours), reproducible for ``seed``."""
    unet_config = dict(DEFAULT_UNET_CONFIG if unet_config is None else unet_config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DModel(**unet_config)
    scheduler = DDPMScheduler(**(DEFAULT_SCHEDULER_CONFIG if scheduler_config is None else scheduler_config))
    return ClassConditionalPixelPipeline(unet=unet.eval(), scheduler=scheduler, class_names=list(class_names))

