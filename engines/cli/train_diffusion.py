"""``python -m engines train-diffusion``: train (or resume) our class-conditional pixel DDPM."""
from __future__ import annotations

import argparse

from ..base import LatentStudioError
from ..diffusion.train_options import DiffusionTrainConfig
from .common import add_command, add_training_flags


def _class_folder(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected CLASS=FOLDER (e.g. 'grumpy cat=../shared/data/grumpy'), got {text!r}")
    return name.strip(), folder.strip()


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "train-diffusion", """
        Train our class-conditional pixel-space DDPM (diffusers UNet2DModel + DDPMScheduler) with label dropout for
        classifier-free guidance. One --class per class, in id order. Snapshots (grids per class × guidance scale,
        log.jsonl, state.pt, latest/ in diffusers layout) go to --out. Several GPUs: `torchrun --nproc_per_node N -m
        engines train-diffusion …` (or accelerate launch), --batch is the global batch.""")
    p.add_argument("--class", dest="classes", type=_class_folder, action="append", required=True,
                   metavar="NAME=FOLDER", help="a class and its image folder (repeat; order = class ids)")
    add_training_flags(p, DiffusionTrainConfig, "engines.diffusion.train:train", values=_classes)


def _classes(args: argparse.Namespace) -> dict:
    """The config's classes from the --class flags (unique names: a dict would keep only the last of each)."""
    names = [n for n, _ in args.classes]
    if len(set(names)) != len(names):
        raise LatentStudioError(f"Class names must be unique, got {names}.")
    return {"classes": dict(args.classes)}
