"""An encoder from images to w+ (e4e-style, Tov et al., 2021): a fast start point for inversion.

Optimising a latent from the mean takes hundreds of generator passes; an encoder gives a good w+ in
one forward pass, and a short optimisation (or pivotal tuning) refines it. Like e4e, the output is a
base code shared by every layer plus per-layer offsets, both added to the generator's mean w, and the
offsets are kept small in training so the code stays editable (close to W).

Shapes: image [N, C, R, R] in [-1, 1] → w+ [N, num_ws, w_dim]. The backbone is the generator's own
discriminator layout (`discriminator.DiscriminatorBlock` from R down to 4 px), so a trained
discriminator's blocks can seed it (`Encoder.from_discriminator`). Saved as a folder: ``config.json``
(with the fingerprint of the generator it was trained for) + ``model.safetensors``; loading reads
tensors only. Training lives in `encoder_train`; core code: networks and tensors.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ..base import LatentStudioError
from .discriminator import add_blocks, run_blocks
from .network_config import NetworkConfig

FORMAT = "latent-studio-encoder"
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


@dataclass
class EncoderConfig(NetworkConfig):
    num_ws: int = 10
    w_dim: int = 128
    channel_base: int = 2048    # backbone channels per resolution: min(channel_base // res, channel_max)
    channel_max: int = 128
    hidden: int = 512           # width of the head


class Encoder(nn.Module):
    """image [N, C, R, R] → w+ [N, num_ws, w_dim] = w_avg + base(image) + offsets(image)."""

    def __init__(self, config: Optional[EncoderConfig] = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = cfg = config or EncoderConfig(**kwargs)
        log2 = int(np.log2(cfg.img_resolution))
        if 2 ** log2 != cfg.img_resolution or log2 < 3:
            raise LatentStudioError(f"Encoder resolution must be a power of two ≥ 8, got {cfg.img_resolution}.")
        channels = add_blocks(self, cfg.img_resolution, cfg.img_channels, cfg.channel_base, cfg.channel_max)
        flat = channels[4] * 16
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(flat, cfg.hidden), nn.LeakyReLU(0.2),
                                   nn.Linear(cfg.hidden, cfg.hidden), nn.LeakyReLU(0.2))
        self.base = nn.Linear(cfg.hidden, cfg.w_dim)
        self.offsets = nn.Linear(cfg.hidden, cfg.num_ws * cfg.w_dim)
        for head in (self.base, self.offsets):  # start at the mean w, like mean-init inversion
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    @property
    def num_ws(self) -> int:
        return self.config.num_ws

    def parts(self, img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(base [N, w_dim], offsets [N, num_ws, w_dim]) relative to ``w_avg``."""
        cfg = self.config
        if img.ndim != 4 or tuple(img.shape[1:]) != (cfg.img_channels, cfg.img_resolution, cfg.img_resolution):
            raise LatentStudioError(f"The encoder takes [N, {cfg.img_channels}, {cfg.img_resolution}, "
                                    f"{cfg.img_resolution}] images, got {list(img.shape)}.")
        h = self.trunk(run_blocks(self, img)[-1])
        return self.base(h), self.offsets(h).view(-1, cfg.num_ws, cfg.w_dim)

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        base, offsets = self.parts(img)
        return self.w_avg + base.unsqueeze(1) + offsets

    def encode(self, img: torch.Tensor, space: str) -> torch.Tensor:
        """The start latent for a projection in ``space``: w+ [N, num_ws, w_dim], or w [N, w_dim] (the
        layers' mean)."""
        if space not in ("w", "w+"):
            raise LatentStudioError(f"The encoder gives w or w+ latents, not {space!r}.")
        wp = self(img)
        return wp if space == "w+" else wp.mean(dim=1)

    @classmethod
    def for_generator(cls, G: Any, D: Optional[nn.Module] = None, **overrides: Any) -> "Encoder":
        """A new encoder sized for generator ``G`` (its mean w as the origin); with ``D``, a discriminator of
        the same layout, the backbone starts from D's trained blocks."""
        kwargs: dict[str, Any] = dict(img_resolution=G.img_resolution, img_channels=G.img_channels,
                                      num_ws=G.num_ws, w_dim=G.w_dim)
        if D is not None and getattr(D, "config", None) is not None:
            kwargs.update(channel_base=D.config.channel_base, channel_max=D.config.channel_max)
        enc = cls(EncoderConfig(**{**kwargs, **overrides}))
        w_avg = getattr(G, "w_avg", None)
        if w_avg is not None:
            enc.w_avg.copy_(w_avg.detach().to(enc.w_avg))
        if D is not None:
            enc.load_backbone(D)
        return enc

    def load_backbone(self, D: nn.Module) -> None:
        """Copy the residual blocks of a discriminator with the same layout."""
        for res in self.block_resolutions:
            try:
                getattr(self, f"b{res}").load_state_dict(getattr(D, f"b{res}").state_dict())
            except (AttributeError, RuntimeError) as exc:
                raise LatentStudioError(f"The discriminator's block b{res} does not fit the encoder: {exc}") from exc


def save_encoder(folder: str | Path, encoder: Encoder, *, fingerprint: str, extra: Optional[dict] = None,
                 fp16: bool = True) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (fp16 by default: half the bytes, same inversions)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if fp16 and v.is_floating_point() and k != "w_avg" else v).detach().cpu().contiguous()
             for k, v in encoder.state_dict().items() if not k.endswith("resample_filter")}
    save_file(state, str(folder / WEIGHTS_NAME))
    config = {"format": FORMAT, "version": 1, "encoder": encoder.config.as_dict(), "generator_fingerprint": fingerprint,
              **(extra or {})}
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2))
    return folder


def load_encoder(folder: str | Path, *, fingerprint: Optional[str] = None,
                 device: torch.device | str = "cpu") -> Encoder:
    """Read an encoder folder (tensors only). With ``fingerprint``, refuse one trained for another generator."""
    folder = Path(folder)
    try:
        config = json.loads((folder / CONFIG_NAME).read_text())
    except (OSError, ValueError) as exc:
        raise LatentStudioError(f"{folder} is not an encoder folder (needs a readable {CONFIG_NAME}): {exc}") from exc
    if config.get("format") != FORMAT:
        raise LatentStudioError(f"{folder / CONFIG_NAME} is not a Latent Studio encoder (format "
                                f"{config.get('format')!r}).")
    if fingerprint is not None and config.get("generator_fingerprint") != fingerprint:
        raise LatentStudioError(f"The encoder in {folder} was trained for another generator (fingerprint "
                                f"{config.get('generator_fingerprint')}, this one is {fingerprint}); retrain it "
                                "with `python -m engines train-encoder`.")
    try:
        enc = Encoder(EncoderConfig(**config["encoder"]))
        state = load_file(str(folder / WEIGHTS_NAME))
        missing, unexpected = enc.load_state_dict({k: v.float() for k, v in state.items()}, strict=False)
    except (OSError, SafetensorError, TypeError, KeyError, RuntimeError) as exc:
        raise LatentStudioError(f"Could not load the encoder in {folder}: {exc}") from exc
    missing = [k for k in missing if not k.endswith("resample_filter")]
    if missing or unexpected:
        raise LatentStudioError(f"The encoder weights in {folder} do not fit its config: missing {missing[:3]}, "
                                f"unexpected {unexpected[:3]}.")
    return enc.to(device).eval().requires_grad_(False)
