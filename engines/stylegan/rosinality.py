"""Read rosinality/stylegan2-pytorch ``.pt`` checkpoints (``torch.load(weights_only=True)``).

That format is ``torch.save({"g_ema": state_dict, "g": …, "d": …, "latent_avg": tensor, …})`` with
its own module names. The math is the same as the official generator (equalised lr, modulated
convs, [1,3,3,1] FIR filters, same channel schedule with ``channel_multiplier=2``), so weights map
one to one; only names and a few shapes differ:

=============================  ======================================  ============================
rosinality                     ours / official                         shape change
=============================  ======================================  ============================
style.{i+1}.weight/bias        mapping.fc{i}.weight/bias               —
latent_avg                     mapping.w_avg                           —
input.input                    synthesis.b4.const                      [1,C,4,4] → [C,4,4]
conv1.*                        synthesis.b4.conv1.*                    see layer rows
to_rgb1.*                      synthesis.b4.torgb.*                    see layer rows
convs.{2k} / convs.{2k+1}      synthesis.b{2^(k+3)}.conv0 / conv1      see layer rows
to_rgbs.{k}                    synthesis.b{2^(k+3)}.torgb              see layer rows
noises.noise_{j}               …conv{0,1}.noise_const (j in layer order) [1,1,R,R] → [R,R]
<layer>.conv.weight            <layer>.weight                          [1,O,I,k,k] → [O,I,k,k]
<layer>.conv.modulation.*      <layer>.affine.*                        —
<layer>.noise.weight           <layer>.noise_strength                  [1] → []
<layer>.activate.bias          <layer>.bias                            —
<torgb>.bias                   <torgb>.bias                            [1,3,1,1] → [3]
=============================  ======================================  ============================
Blur/upsample kernels are fixed buffers and are not read.
"""
from __future__ import annotations

import math
import pickle
import re
import zipfile
from pathlib import Path
from typing import Any

import torch

from ..base import LatentStudioError


def _layer(src: dict[str, torch.Tensor], s: str, d: str, out: dict[str, torch.Tensor], torgb: bool = False) -> None:
    out[f"{d}.weight"] = src[f"{s}.conv.weight"].squeeze(0)
    out[f"{d}.affine.weight"] = src[f"{s}.conv.modulation.weight"]
    out[f"{d}.affine.bias"] = src[f"{s}.conv.modulation.bias"]
    if torgb:
        out[f"{d}.bias"] = src[f"{s}.bias"].reshape(-1)
    else:
        out[f"{d}.noise_strength"] = src[f"{s}.noise.weight"].reshape([])
        out[f"{d}.bias"] = src[f"{s}.activate.bias"]


def convert_generator(sd: dict[str, torch.Tensor], latent_avg: torch.Tensor | None) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Rosinality generator state dict → (our StyleGAN2Config kwargs, our state dict)."""
    try:
        n_mlp = len({int(m.group(1)) for k in sd if (m := re.match(r"style\.(\d+)\.weight$", k))})
        n_up = len({int(m.group(1)) for k in sd if (m := re.match(r"to_rgbs\.(\d+)\.conv\.weight$", k))})
        resolution = 4 * 2 ** n_up
        const = sd["input.input"]
        style_dim = sd["style.1.weight"].shape[1]
        out: dict[str, torch.Tensor] = {}
        for i in range(n_mlp):
            out[f"mapping.fc{i}.weight"] = sd[f"style.{i + 1}.weight"]
            out[f"mapping.fc{i}.bias"] = sd[f"style.{i + 1}.bias"]
        out["mapping.w_avg"] = (latent_avg if latent_avg is not None else torch.zeros(style_dim)).reshape(-1)
        out["synthesis.b4.const"] = const.squeeze(0)
        _layer(sd, "conv1", "synthesis.b4.conv1", out)
        _layer(sd, "to_rgb1", "synthesis.b4.torgb", out, torgb=True)
        out["synthesis.b4.conv1.noise_const"] = sd["noises.noise_0"].reshape(4, 4)
        for k in range(n_up):
            res = 2 ** (k + 3)
            for j, name in ((0, "conv0"), (1, "conv1")):
                _layer(sd, f"convs.{2 * k + j}", f"synthesis.b{res}.{name}", out)
                out[f"synthesis.b{res}.{name}.noise_const"] = sd[f"noises.noise_{2 * k + j + 1}"].reshape(res, res)
            _layer(sd, f"to_rgbs.{k}", f"synthesis.b{res}.torgb", out, torgb=True)
        top = const.shape[1]
        last = out[f"synthesis.b{resolution}.conv1.weight"].shape[0]
    except KeyError as exc:
        raise LatentStudioError(f"Not a rosinality StyleGAN2 generator: missing key {exc}.") from exc
    except (AttributeError, TypeError, IndexError, ValueError, RuntimeError) as exc:  # entries that are not tensors
        raise LatentStudioError(f"Not a rosinality StyleGAN2 generator: malformed entries ({type(exc).__name__}: "
                                f"{exc}).") from exc
    # Official schedule: channels(res) = min(channel_base // res, channel_max).
    config = dict(img_resolution=resolution, img_channels=out["synthesis.b4.torgb.weight"].shape[0],
                  z_dim=style_dim, w_dim=style_dim, mapping_layers=n_mlp, mapping_lr_multiplier=0.01,
                  channel_base=last * resolution, channel_max=top)
    if math.log2(resolution) != int(math.log2(resolution)):
        raise LatentStudioError(f"Unexpected resolution {resolution} in the rosinality checkpoint.")
    return config, out


def read_rosinality_pt(path: str | Path) -> dict[str, Any]:
    """Returns ``{"G": (config, state_dict), "D": None}`` (rosinality's D has another layout)."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global that is not a tensor or a plain container before calling it
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if not found:
            raise LatentStudioError(f"Could not read {Path(path).name} safely as a torch checkpoint: it is not a "
                                    "PyTorch checkpoint, or it holds objects other than tensors and plain "
                                    "containers.") from exc
        raise LatentStudioError(f"Refusing to load {Path(path).name} (could not read it safely as a torch "
                                f"checkpoint): it asks for '{found.group(1)}', which is not a tensor or a plain "
                                "container. Latent Studio never runs code from a checkpoint; convert the file to "
                                "safetensors with trusted code if you need it.") from exc
    except (RuntimeError, EOFError, OSError, ValueError, AttributeError, TypeError, KeyError, IndexError,
            zipfile.BadZipFile) as exc:
        raise LatentStudioError(f"Could not read {Path(path).name} safely as a torch checkpoint (is it truncated, "
                                f"or not a PyTorch file?): {_first_line(exc)}") from exc
    if not isinstance(ckpt, dict):
        raise LatentStudioError(f"{Path(path).name} is not a rosinality checkpoint (top level is not a dict).")
    sd = next((ckpt[k] for k in ("g_ema", "g") if isinstance(ckpt.get(k), dict)), None)
    if sd is None and "style.1.weight" in ckpt:
        sd = ckpt
    if not isinstance(sd, dict):
        raise LatentStudioError(f"{Path(path).name} has no 'g_ema' or 'g' generator state dict.")
    latent_avg = ckpt.get("latent_avg")
    return {"G": convert_generator(sd, latent_avg if isinstance(latent_avg, torch.Tensor) else None), "D": None}


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."
