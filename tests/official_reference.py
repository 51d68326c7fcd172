"""The official StyleGAN2-ADA generator maths, written out plainly over a state dict, for comparison.

Written from the public stylegan2-ada-pytorch semantics, layer by layer, without our modules: the fused
modulated convolution (one grouped convolution with per-sample demodulated kernels, the official inference
path), gains applied as the official layers apply them (lrelu gain √2, then the clamp at ``conv_clamp``),
fp16 blocks (inputs cast to float16, kernels and styles pre-normalised by their max, image kept in float32),
class-conditional mapping and truncation. Only the FIR resampling primitives (``upfirdn2d``,
``conv2d_resample``) are shared with the library; they carry no gains or clamps.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F

from engines.stylegan.ops import conv2d_resample, setup_filter, upfirdn2d

SQRT2 = math.sqrt(2)


def _fc(sd, name, x, lr_mul=1.0, act=None):
    w = sd[f"{name}.weight"].float() * (lr_mul / math.sqrt(sd[f"{name}.weight"].shape[1]))
    x = x @ w.t() + sd[f"{name}.bias"].float() * lr_mul
    return F.leaky_relu(x, 0.2) * SQRT2 if act == "lrelu" else x


def _norm2(x):
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def mapping(sd, kw, z, c=None, psi=1.0):
    """[N, z_dim] (+ one-hot c) → w [N, w_dim], truncated toward ``w_avg`` by ``psi``."""
    mk = kw.get("mapping_kwargs", {})
    lr_mul, layers = mk.get("lr_multiplier", 0.01), mk.get("num_layers", 8)
    parts = [_norm2(z.float())]
    if kw["c_dim"]:
        parts.append(_norm2(_fc(sd, "mapping.embed", c.float())))
    x = torch.cat(parts, dim=1)
    for i in range(layers):
        x = _fc(sd, f"mapping.fc{i}", x, lr_mul, "lrelu")
    return sd["mapping.w_avg"].lerp(x, psi) if psi != 1 else x


def _modconv(x, weight, styles, demodulate=True, up=1, padding=0, f=None):
    """Fused form: per-sample kernels, demodulated, as one grouped convolution."""
    n = x.shape[0]
    out_ch, in_ch, kh, kw = weight.shape
    if x.dtype == torch.float16 and demodulate:
        weight = weight * (1 / np.sqrt(in_ch * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    x = conv2d_resample(x, w.reshape(-1, in_ch, kh, kw).to(x.dtype), f=f, up=up, padding=padding, groups=n,
                        flip_weight=(up == 1))
    return x.reshape(n, -1, *x.shape[2:])


def _layer(sd, name, x, w, up, clamp, f):
    styles = _fc(sd, f"{name}.affine", w)
    x = _modconv(x, sd[f"{name}.weight"].float(), styles, up=up, padding=1, f=f)
    x = x + (sd[f"{name}.noise_const"] * sd[f"{name}.noise_strength"]).to(x.dtype)  # noise_mode "const"
    x = F.leaky_relu(x + sd[f"{name}.bias"].to(x.dtype).reshape(1, -1, 1, 1), 0.2) * SQRT2
    return x.clamp(-clamp, clamp) if clamp is not None else x


def _torgb(sd, name, x, w, clamp):
    styles = _fc(sd, f"{name}.affine", w) / math.sqrt(sd[f"{name}.weight"].shape[1])
    x = _modconv(x, sd[f"{name}.weight"].float(), styles, demodulate=False)
    x = x + sd[f"{name}.bias"].to(x.dtype).reshape(1, -1, 1, 1)
    return x.clamp(-clamp, clamp) if clamp is not None else x


def synthesis(sd, kw, ws, force_fp32=True):
    """w+ [N, num_ws, w_dim] → image [N, C, R, R] (noise_mode "const")."""
    sk = kw.get("synthesis_kwargs", {})
    res_log2 = int(np.log2(kw["img_resolution"]))
    clamp = sk.get("conv_clamp")
    fp16_res = max(2 ** (res_log2 + 1 - sk.get("num_fp16_res", 0)), 8)
    f = setup_filter()
    x = img = None
    idx = 0
    for res in [2 ** i for i in range(2, res_log2 + 1)]:
        dtype = torch.float16 if sk.get("num_fp16_res", 0) and res >= fp16_res and not force_fp32 else torch.float32
        b = f"synthesis.b{res}"
        if res == 4:
            x = sd[f"{b}.const"].to(dtype).unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = _layer(sd, f"{b}.conv1", x, ws[:, idx], 1, clamp, f)
            idx += 1
        else:
            x = _layer(sd, f"{b}.conv0", x.to(dtype), ws[:, idx], 2, clamp, f)
            x = _layer(sd, f"{b}.conv1", x, ws[:, idx + 1], 1, clamp, f)
            idx += 2
        y = _torgb(sd, f"{b}.torgb", x, ws[:, idx], clamp).float()
        img = y if img is None else upfirdn2d(img, f, up=2, padding=[2, 1, 2, 1], gain=4) + y
    return img


def generate(sd, kw, z=None, c=None, psi=1.0, ws: Optional[torch.Tensor] = None, force_fp32=True):
    """The official ``G(z, c, truncation_psi)`` (or ``G.synthesis(ws)`` when ``ws`` is given)."""
    if ws is None:
        w = mapping(sd, kw, z, c, psi)
        num_ws = 2 * int(np.log2(kw["img_resolution"])) - 2
        ws = w.unsqueeze(1).repeat(1, num_ws, 1)
    return synthesis(sd, kw, ws, force_fp32)
