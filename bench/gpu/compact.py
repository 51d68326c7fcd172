"""Compact resumable training states: a fp32 ``state.pt`` is too big to bring back from the device (DDPM ≈ 70 MB).

`compact_state` keeps the weights in fp16 and Adam's moments in bf16 (the DDPM's EMA weights are taken from
``latest/`` instead); `expand_state` / `expand_run` turn one back into a ``state.pt`` the trainers resume from
exactly. Used on the device by `bench.gpu.burst` (packing what comes back), here by `bench.gpu.pack` (carrying a
run over with ``--resume-state``) and `bench.gpu.unpack` (expanding what came back).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import torch

COMPACT_NAME = "state16.pt"
STATE_NAME = "state.pt"                    # both trainers' name
MODEL_KEYS = {"gan": ("G", "D", "G_ema"), "ddpm": ("unet",)}
OPT_KEYS = {"gan": ("opt_G", "opt_D"), "ddpm": ("opt",)}


def _half(t: Any) -> Any:
    if isinstance(t, torch.Tensor) and t.dtype == torch.float32 and (t.numel() == 0 or t.abs().max() < 6e4):
        return t.half()
    return t


def _float(t: Any) -> Any:
    return t.float() if isinstance(t, torch.Tensor) and t.dtype in (torch.float16, torch.bfloat16) else t


def _map_opt(opt: dict, fn) -> dict:
    return {**opt, "state": {i: {k: fn(v) if k in ("exp_avg", "exp_avg_sq") else v for k, v in s.items()}
                             for i, s in opt["state"].items()}}


def compact_state(state: dict, kind: str) -> dict:
    """Weights fp16, Adam moments bf16 (their range), counters as they are; the DDPM's EMA weights are
    left out: ``latest/unet`` holds them (fp16) and `expand_state` takes them from there."""
    out = dict(state)
    for key in MODEL_KEYS[kind]:
        out[key] = {k: _half(v) for k, v in state[key].items()}
    for key in OPT_KEYS[kind]:
        out[key] = _map_opt(state[key], lambda t: t.bfloat16())
    if kind == "ddpm":
        out["ema"] = {k: v for k, v in state["ema"].items() if k != "shadow_params"}
    out["compact"] = {"kind": kind, "version": 1}
    return out


def expand_state(compact: dict, kind: str, latest: Path) -> dict:
    """The inverse of `compact_state`: a state.pt the trainers resume from (fp32 throughout)."""
    state = {k: v for k, v in compact.items() if k != "compact"}
    for key in MODEL_KEYS[kind]:
        state[key] = {k: _float(v) for k, v in compact[key].items()}
    for key in OPT_KEYS[kind]:
        state[key] = _map_opt(compact[key], _float)
    if kind == "ddpm":
        from diffusers import UNet2DModel
        unet = UNet2DModel.from_pretrained(str(latest / "unet"), torch_dtype=torch.float32)
        state["ema"] = {**compact["ema"], "shadow_params": [p.detach().float().clone() for p in unet.parameters()]}
    return state


def write_compact(run: Path, kind: str, dest: Path) -> Path:
    state = torch.load(run / STATE_NAME, map_location="cpu", weights_only=True)
    torch.save(compact_state(state, kind), dest)
    return dest


def expand_run(run: Path, kind: str, dest: Optional[Path] = None) -> Path:
    """``run/state16.pt`` (+ ``run/latest``) → ``dest/state.pt`` (default: beside it)."""
    dest = dest or run
    compact = torch.load(run / COMPACT_NAME, map_location="cpu", weights_only=True)
    if compact.get("compact", {}).get("kind") != kind:
        raise ValueError(f"{run / COMPACT_NAME} is not a compact {kind} state")
    dest.mkdir(parents=True, exist_ok=True)
    torch.save(expand_state(compact, kind, run / "latest"), dest / STATE_NAME)
    return dest / STATE_NAME
