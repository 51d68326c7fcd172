"""Builds the ``python -m engines`` parser from the command modules and turns user errors into one line."""
from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

from ..base import LatentStudioError
from . import diffusion, directions, interpolate, project, sample, train, train_diffusion

COMMANDS = [sample, project, interpolate, directions, diffusion, train, train_diffusion]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m engines",
        description="Latent Studio: edit images on the manifold of a GAN or a diffusion model.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.register(sub)
    return parser


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
