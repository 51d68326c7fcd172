"""StyleGAN2 generator (mapping + synthesis) in pure PyTorch.

Module and parameter names, shapes and forward semantics follow the official StyleGAN2-ADA
generator (``training/networks.py`` there), so an official state dict maps one to one:
``mapping.fc{i}.{weight,bias}``, ``mapping.w_avg``, ``synthesis.b{res}.{const,conv0,conv1,torgb}``
with ``affine``, ``weight``, ``bias``, ``noise_strength`` and ``noise_const`` in each layer.
The synthesis network takes ``num_ws = 2·log2(res) − 2`` style vectors, so w+ is natural.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch import nn

from .drag_features import stored_warps, warp
from .network_config import NetworkConfig
from .ops import (FullyConnectedLayer, bias_act, modulated_conv2d, normalize_2nd_moment, setup_filter,
                  upsample2d, LRELU_GAIN)

NOISE_MODES = ("const", "random", "none")


@dataclass
class StyleGAN2Config(NetworkConfig):
    """Everything needed to rebuild a generator; saved as JSON next to the weights."""
    z_dim: int = 512
    w_dim: int = 512
    c_dim: int = 0
    mapping_layers: int = 8
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 32768
    channel_max: int = 512
    conv_clamp: Optional[float] = None
    w_avg_beta: float = 0.995
    num_fp16_res: int = 0  # the N highest resolutions run in float16 on CUDA (official mixed precision)
    class_names: Optional[list[str]] = None  # names of the c_dim classes, where known

    def __post_init__(self) -> None:
        log2 = math.log2(self.img_resolution)
        if log2 != int(log2) or not 4 <= self.img_resolution <= 1024:
            raise ValueError(f"img_resolution must be a power of two in [4, 1024], got {self.img_resolution}")
        if not 0 <= int(self.num_fp16_res) <= 10:
            raise ValueError(f"num_fp16_res must be in [0, 10], got {self.num_fp16_res}")
        if self.class_names is not None and len(self.class_names) != self.c_dim:
            raise ValueError(f"class_names lists {len(self.class_names)} names for c_dim={self.c_dim}")


class MappingNetwork(nn.Module):
    """z (and optional class c) → w through ``num_layers`` equalised FC layers; tracks ``w_avg``."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: Optional[int], num_layers: int = 8,
                 lr_multiplier: float = 0.01, w_avg_beta: Optional[float] = 0.995) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        embed_features = w_dim if c_dim > 0 else 0
        if c_dim > 0:
            self.embed = FullyConnectedLayer(c_dim, embed_features)
        features = [z_dim + embed_features] + [w_dim] * num_layers
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(features[i], features[i + 1], activation="lrelu",
                                                        lr_multiplier=lr_multiplier))
        if num_ws is not None and w_avg_beta is not None:
            self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, update_emas: bool = False) -> torch.Tensor:
        parts = []
        if self.z_dim > 0:
            parts.append(normalize_2nd_moment(z.to(torch.float32)))
        if self.c_dim > 0:
            if c is None:
                raise ValueError("this mapping network is class-conditional: pass c")
            parts.append(normalize_2nd_moment(self.embed(c.to(torch.float32))))
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        if update_emas and self.w_avg_beta is not None:
            self.w_avg.copy_(x.detach().float().mean(dim=0).lerp(self.w_avg, self.w_avg_beta))  # bf16 autocast: fp32
        if self.num_ws is not None:
            x = x.unsqueeze(1).repeat([1, self.num_ws, 1])
        if truncation_psi != 1:
            x = truncate(x, self.w_avg, truncation_psi, truncation_cutoff)
        return x


def truncate(ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: Optional[int] = None) -> torch.Tensor:
    """The truncation trick: pull w (or the first ``cutoff`` rows of w+) toward ``w_avg`` by ``psi``."""
    if ws.ndim == 2:
        return w_avg.lerp(ws, psi)
    if cutoff is None:
        return w_avg.lerp(ws, psi)
    ws = ws.clone()
    ws[:, :cutoff] = w_avg.lerp(ws[:, :cutoff], psi)
    return ws


class SynthesisLayer(nn.Module):
    """Modulated 3×3 convolution (optionally 2× up-sampling) + per-pixel noise + bias + lrelu."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, kernel_size: int = 3,
                 up: int = 1, use_noise: bool = True, resample_filter=(1, 3, 3, 1),
                 conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.resolution, self.up, self.use_noise, self.conv_clamp = resolution, up, use_noise, conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        if use_noise:
            self.register_buffer("noise_const", torch.randn([resolution, resolution]))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                generator: Optional[torch.Generator] = None, noise: Optional[torch.Tensor] = None) -> torch.Tensor:
        styles = self.affine(w)
        if self.use_noise:
            if noise is not None:  # an explicit map (e.g. optimised by the projector)
                noise = noise * self.noise_strength
            elif noise_mode == "random":
                shape = [x.shape[0], 1, self.resolution, self.resolution]
                noise = torch.randn(shape, device=x.device, dtype=torch.float32, generator=generator)
                noise = noise.to(x.dtype) * self.noise_strength
            elif noise_mode == "const":
                noise = self.noise_const * self.noise_strength
            else:
                noise = None
        x = modulated_conv2d(x, self.weight, styles, noise=noise, up=self.up, padding=self.padding,
                             resample_filter=self.resample_filter, flip_weight=(self.up == 1))
        # The official layer clamps at conv_clamp × its gain argument (1 here), after the lrelu gain.
        return bias_act(x, self.bias, act="lrelu", gain=LRELU_GAIN, clamp=self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1×1 convolution to RGB, without demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, kernel_size: int = 1,
                 conv_clamp: Optional[float] = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class SynthesisBlock(nn.Module):
    """One resolution: (const | up-conv) → conv → toRGB, added to the up-sampled skip image."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 resample_filter=(1, 3, 3, 1), conv_clamp: Optional[float] = None, use_fp16: bool = False) -> None:
        super().__init__()
        self.in_channels, self.resolution, self.use_fp16 = in_channels, resolution, use_fp16
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = 0
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn([out_channels, resolution, resolution]))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2,
                                        resample_filter=resample_filter, conv_clamp=conv_clamp)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
        self.num_torgb = 1

    def forward(self, x, img, ws, noise_mode="const", generator=None, noise=None, force_fp32=True):
        """Features run in float16 when the block uses fp16 and ``force_fp32`` is off; the image stays float32."""
        w_iter = iter(ws.unbind(dim=1))
        noise = noise or {}
        dtype = torch.float16 if self.use_fp16 and not force_fp32 else torch.float32
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).repeat([ws.shape[0], 1, 1, 1])
        else:
            x = self.conv0(x.to(dtype), next(w_iter), noise_mode, generator, noise.get("conv0"))
        x = self.conv1(x, next(w_iter), noise_mode, generator, noise.get("conv1"))
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter)).to(torch.float32)
        img = img + y if img is not None else y
        return x, img


class SynthesisNetwork(nn.Module):
    """w+ [N, num_ws, w_dim] → image [N, C, R, R] in (roughly) [-1, 1]."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channel_base: int = 32768,
                 channel_max: int = 512, conv_clamp: Optional[float] = None, num_fp16_res: int = 0) -> None:
        super().__init__()
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        log2 = int(np.log2(img_resolution))
        self.block_resolutions = [2 ** i for i in range(2, log2 + 1)]
        channels = {res: min(channel_base // res, channel_max) for res in self.block_resolutions}
        fp16_resolution = max(2 ** (log2 + 1 - num_fp16_res), 8)  # as the official network decides it
        self.num_ws = 0
        for res in self.block_resolutions:
            in_ch = channels[res // 2] if res > 4 else 0
            block = SynthesisBlock(in_ch, channels[res], w_dim, res, img_channels, conv_clamp=conv_clamp,
                                   use_fp16=num_fp16_res > 0 and res >= fp16_resolution)
            self.num_ws += block.num_conv
            if res == img_resolution:
                self.num_ws += block.num_torgb
            setattr(self, f"b{res}", block)

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", generator: Optional[torch.Generator] = None,
                noise: Optional[dict[str, torch.Tensor]] = None, force_fp32: Optional[bool] = None,
                features_at: Optional[int] = None, feature_edits: Optional[dict[int, Any]] = None) -> Any:
        """``force_fp32`` None: the fp16 blocks (``num_fp16_res``) run in float16 on CUDA, as the official
        generator does there, and in float32 elsewhere (the official ``force_fp32=True`` maths).
        ``features_at``: a block resolution; then returns (image, that block's output features [N, C, r, r]).
        ``feature_edits``: {block resolution: f(features, skip image) → (features, skip image)}, applied to that
        block's outputs before the next block (drag's feature-space modes, `drag.FeatureEdit`)."""
        if force_fp32 is None:
            force_fp32 = ws.device.type != "cuda"
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1] != self.num_ws or ws.shape[2] != self.w_dim:
            raise ValueError(f"expected ws of shape [N, {self.num_ws}, {self.w_dim}], got {list(ws.shape)}")
        noise = noise or {}
        warps = stored_warps(noise)  # a drag's warp kept with the latent (`drag_features.WARP_PREFIX`)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            block_noise = {k.split(".", 1)[1]: v for k, v in noise.items() if k.startswith(f"b{res}.")}
            x, img = block(x, img, block_ws, noise_mode, generator, block_noise, force_fp32)
            if res in warps:
                x, img = warp(x, warps[res], self.img_resolution), warp(img, warps[res], self.img_resolution)
            if feature_edits and res in feature_edits:
                x, img = feature_edits[res](x, img)
            if res == features_at:
                feats = x
        if features_at is not None:
            if features_at not in self.block_resolutions:
                raise ValueError(f"features_at must be one of {self.block_resolutions}, got {features_at}")
            return img, feats.float()
        return img

    def noise_layers(self) -> dict[str, SynthesisLayer]:
        """The layers that take a noise map, keyed ``b{res}.conv{0,1}`` (for noise optimisation)."""
        return {name: m for name, m in self.named_modules()
                if isinstance(m, SynthesisLayer) and m.use_noise}


class ClassBoundMapping(nn.Module):
    """A class-conditional mapping network with its class fixed, called like an unconditional one.

    ``c`` is one row [1, c_dim] (one-hot for a class index), broadcast to the batch; a ``c`` passed
    explicitly still wins. The wrapped network's weights are shared, not copied.
    """

    def __init__(self, mapping: MappingNetwork, c: torch.Tensor) -> None:
        super().__init__()
        self.inner = mapping
        self.register_buffer("c", c.reshape(1, -1).to(torch.float32), persistent=False)
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = mapping.z_dim, mapping.c_dim, mapping.w_dim, mapping.num_ws

    @property
    def w_avg(self) -> torch.Tensor:
        return self.inner.w_avg

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, **kwargs: Any) -> torch.Tensor:
        return self.inner(z, self.c.to(z.device).expand(z.shape[0], -1) if c is None else c, **kwargs)


class StyleGAN2Generator(nn.Module):
    """The full generator: ``G(z) = synthesis(mapping(z))``, with z, w and w+ entry points."""

    arch = "stylegan2"
    spaces = ("z", "w", "w+")

    def __init__(self, config: Optional[StyleGAN2Config] = None, **kwargs: Any) -> None:
        super().__init__()
        self.config = config or StyleGAN2Config(**kwargs)
        cfg = self.config
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.synthesis = SynthesisNetwork(cfg.w_dim, cfg.img_resolution, cfg.img_channels, cfg.channel_base,
                                          cfg.channel_max, cfg.conv_clamp, cfg.num_fp16_res)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(cfg.z_dim, cfg.c_dim, cfg.w_dim, self.num_ws, cfg.mapping_layers,
                                      cfg.mapping_lr_multiplier, cfg.w_avg_beta)

    @property
    def w_avg(self) -> torch.Tensor:
        return self.mapping.w_avg

    def with_class(self, c: torch.Tensor) -> "StyleGAN2Generator":
        """A view of this generator whose mapping always gets class vector ``c`` [c_dim] (weights shared)."""
        if self.c_dim == 0:
            raise ValueError("this generator is unconditional")
        view = copy.copy(self)
        view._modules = dict(self._modules)
        base = self.mapping.inner if isinstance(self.mapping, ClassBoundMapping) else self.mapping
        view._modules["mapping"] = ClassBoundMapping(base, c.to(base.fc0.weight.device))
        return view

    @property
    def class_bound(self) -> bool:
        """False for a class-conditional generator that still needs a class."""
        return self.c_dim == 0 or isinstance(self.mapping, ClassBoundMapping)

    def forward(self, z: torch.Tensor, c: Optional[torch.Tensor] = None, truncation_psi: float = 1.0,
                truncation_cutoff: Optional[int] = None, noise_mode: str = "const",
                generator: Optional[torch.Generator] = None) -> torch.Tensor:
        ws = self.mapping(z, c, truncation_psi=truncation_psi, truncation_cutoff=truncation_cutoff)
        return self.synthesis(ws, noise_mode=noise_mode, generator=generator)

    def synthesize(self, latent: torch.Tensor, space: str, noise_mode: str = "const",
                   noise: Optional[dict[str, torch.Tensor]] = None) -> torch.Tensor:
        """Image from a latent in ``space``: z [N, z_dim], w [N, w_dim] or w+ [N, num_ws, w_dim]."""
        return self.synthesis(self.to_wplus(latent, space), noise_mode=noise_mode, noise=noise)

    def to_wplus(self, latent: torch.Tensor, space: str) -> torch.Tensor:
        if space == "z":
            return self.mapping(latent)
        if space == "w":
            return latent.unsqueeze(1).repeat([1, self.num_ws, 1])
        if space == "w+":
            return latent
        raise ValueError(f"unknown latent space {space!r}; StyleGAN2 supports {self.spaces}")

    @torch.no_grad()
    def mean_w(self, n: int = 10_000, seed: int = 0) -> torch.Tensor:
        """Mean of ``n`` mapped z (used when the tracked ``w_avg`` is missing or untrained)."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn([n, self.z_dim], generator=gen).to(self.w_avg.device)
        return self.mapping(z)[:, 0].mean(dim=0)
