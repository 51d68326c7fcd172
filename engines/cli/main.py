"""Builds the ``python -m engines`` parser from the command modules and turns user errors into one line.

Start-up stays fast: ``python -m engines --help`` imports no command module, and a command imports only its own
module before its arguments are parsed, so --help and argument errors answer before torch, diffusers or gradio
are loaded (`bench.startup`; tests/test_startup.py checks it for every command).

A new command is one module, engines/cli/<name>.py, and one line in `COMMANDS` below:
- at the module's top, import only light things: argparse, pathlib, ``.common``, ``..options`` and option
  dataclasses that are plain Python (``engines.stylegan.options``, ``engines.diffusion.options``);
- ``register(sub)`` adds the command (``common.add_command(sub, name, description, run)``: its help is its line
  in COMMANDS) and its flags;
- ``run(args)`` imports the engines, torch, numpy, imaging … inside itself, does the work and returns 0.
A training command is its config's flags and a run from `common.add_training_flags` (``train-gan``: that and
`common.add_command`).
"""
from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from ..base import LatentStudioError

#: command → (its module in engines/cli, the line `python -m engines --help` shows for it), in --help's order.
COMMANDS: dict[str, tuple[str, str]] = {
    "sample": ("sample", "draw images from a GAN"),
    "invert": ("invert", "project photos into the GAN's latent space"),
    "scribble": ("scribble", "turn a colour scribble into a realistic image"),
    "interpolate": ("interpolate", "animate a latent interpolation between two images or latents"),
    "drag": ("drag", "drag points of a GAN image to new places (DragGAN)"),
    "directions": ("directions", "find latent directions (SeFa, GANSpace or from examples)"),
    "edit": ("directions", "move a latent or image along a direction"),
    "sdedit": ("diffusion", "SDEdit a photo or colour sketch with a diffusion model"),
    "compare": ("diffusion", "the same sketch through the GAN (scribble) and diffusion (SDEdit)"),
    "translate": ("translate", "turn the cat in a photo into another class (e.g. a Grumpy Cat)"),
    "train-gan": ("train", "train or fine-tune a GAN on a folder of images"),
    "train-diffusion": ("train_diffusion", "train the class-conditional pixel diffusion model"),
    "train-encoder": ("train_encoder", "train an image → w+ encoder for a StyleGAN2 (fast inversion start)"),
    "models": ("models", "list the known models (ffhq, afhqcat, sd-turbo, …) usable as --model NAME"),
}


def command_module(command: str):
    """The module of engines/cli that registers ``command`` (imported now)."""
    return importlib.import_module(f".{COMMANDS[command][0]}", __package__)


def build_parser(command: Optional[str] = None, *, everything: bool = True) -> argparse.ArgumentParser:
    """The parser. ``command``: register that command's module in full and the others as names with their help
    line only (what `main` does); None: every module in full (``everything``, for tests and tools) or, with
    ``everything=False``, none of them (what --help needs)."""
    parser = argparse.ArgumentParser(
        prog="python -m engines",
        description="Latent Studio: edit images on the manifold of a GAN or a diffusion model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    if command is not None:
        modules = [COMMANDS[command][0]] if command in COMMANDS else []
    else:
        modules = list(dict.fromkeys(module for module, _ in COMMANDS.values())) if everything else []
    for module in modules:
        importlib.import_module(f".{module}", __package__).register(sub)
    for name, (_, line) in COMMANDS.items():
        if name not in sub.choices:
            sub.add_parser(name, help=line, add_help=False)
    return parser


def _command_in(argv: Sequence[str]) -> Optional[str]:
    """The command named in ``argv`` (the first word that is not an option; the top level has no other options)."""
    return next((word for word in argv if not word.startswith("-")), None)


OOM_HINT = ("try fewer samples (--n), fewer steps or restarts, a smaller --batch or --resolution, "
            "--attention-slicing / --cpu-offload for Stable Diffusion, or --device cpu")


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, the same as a plain RuntimeError from older builds/other backends, or MemoryError."""
    import torch
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", ())
    if isinstance(exc, MemoryError) or (oom_type and isinstance(exc, oom_type)):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_in(argv), everything=False).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LatentStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as exc:
        if not is_out_of_memory(exc):
            raise  # a bug, not something the user caused: keep the traceback
        _free_cuda_cache()
        text = str(exc).lower()
        what = "out of GPU memory" if ("cuda" in text or "gpu" in text or "mps" in text) else "out of memory"
        print(f"error: {what} ({_one_line(exc)}); {OOM_HINT}.", file=sys.stderr)
        return 2
    except OSError as exc:  # writing outputs: permissions, a full disk, a file where a folder should be
        name = f" {exc.filename!r}" if getattr(exc, "filename", None) else ""
        print(f"error: could not read or write{name}: {exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 2


def _free_cuda_cache() -> None:
    try:
        import torch
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # best effort only: we are already reporting an error
        pass
