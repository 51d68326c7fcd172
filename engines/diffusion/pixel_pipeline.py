"""Our pixel-space diffusion model as a real diffusers pipeline, and its one default configuration.

A `ClassConditionalPixelPipeline` is a ``UNet2DModel`` (class-conditional through ``num_class_embeds``)
plus a scheduler, registered with ``register_modules`` so ``save_pretrained`` / ``from_pretrained``
work as for any diffusers model (safetensors weights, ``model_index.json``). The class names live
in ``model_index.json`` too; class ids are their positions, and the extra id ``len(classes)`` is the
*null* class that classifier-free guidance uses as "unconditional" (trained with label dropout).

`DEFAULT_UNET_CONFIG` / `DEFAULT_SCHEDULER_CONFIG` are what "default" means and what the training
issue trains; until trained weights exist in ``weights/ddpm-cats64`` the default is
`untrained_default()`: that architecture with random weights from a fixed seed.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from diffusers import DDPMScheduler, DiffusionPipeline, ImagePipelineOutput, UNet2DModel

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


class ClassConditionalPixelPipeline(DiffusionPipeline):
    """Class-conditional (or unconditional) pixel-space DDPM: ``pipe(class_labels=[...])`` samples images.

    ``class_names`` (saved in ``model_index.json``) name the class ids; the UNet must then have
    ``num_class_embeds == len(class_names) + 1`` (the last id is the null class). An unconditional
    UNet (no ``num_class_embeds``) takes no class names.
    """

    model_cpu_offload_seq = "unet"

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
        size = self.unet.config.sample_size
        return int(size if isinstance(size, int) else size[0])

    @torch.no_grad()
    def __call__(self, class_labels: Optional[Sequence[str]] = None, num_inference_steps: int = 50,
                 guidance_scale: float = DEFAULT_GUIDANCE, generator: Any = None, batch_size: int = 1,
                 output_type: str = "pil", return_dict: bool = True) -> Any:
        """Sample images from noise (the whole schedule) with this pipeline's scheduler.

        ``class_labels``: one name per image (default: the first class for every image);
        ``generator``: one ``torch.Generator`` or one per image.
        """
        from .sdedit import denoise
        if isinstance(generator, list):
            batch_size = len(generator)
        labels = list(class_labels) if class_labels is not None else [None] * batch_size
        ids = [self.class_id(name) for name in labels]
        out = denoise(self.unet, self.scheduler, guide=None, mask=None, class_ids=ids, null_id=self.null_class_id,
                      guidance=guidance_scale, steps=num_inference_steps, strength=1.0, generators=generator,
                      device=self._execution_device)
        images = ((out.images.clamp(-1, 1) + 1) / 2).cpu().permute(0, 2, 3, 1).float().numpy()
        if output_type == "pil":
            images = self.numpy_to_pil(images)
        return ImagePipelineOutput(images=images) if return_dict else (images,)


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


def untrained_default(seed: int = 0) -> ClassConditionalPixelPipeline:
    """What "default" is until trained weights land: the default architecture, random weights."""
    return build_pixel_pipeline(seed=seed)
