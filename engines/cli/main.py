"""Builds the ``python -m engines`` parser from the command modules and turns user errors into one line."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ..base import LatentStudioError
from . import diffusion, directions, drag, interpolate, models, project, sample, train, train_diffusion, train_encoder

COMMANDS = [sample, project, interpolate, drag, directions, diffusion, train, train_diffusion, train_encoder, models]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engines",
        description="Latent Studio: edit images on the manifold of a GAN or a diffusion model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


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
    args = build_parser().parse_args(argv)
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
