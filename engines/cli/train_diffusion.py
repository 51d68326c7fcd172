"""``python -m engines train-diffusion``: train (or resume) our class-conditional pixel DDPM."""
from __future__ import annotations

import argparse

from ..base import LatentStudioError
from ..diffusion.train_options import DiffusionTrainConfig
from ..options import add_flags
from .common import report_training


def _class_folder(text: str) -> tuple[str, str]:
    name, sep, folder = text.partition("=")
    if not sep or not name.strip() or not folder.strip():
        raise argparse.ArgumentTypeError(f"expected CLASS=FOLDER (e.g. 'grumpy cat=../shared/data/grumpy'), got {text!r}")
    return name.strip(), folder.strip()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-diffusion", help="train the class-conditional pixel diffusion model",
        description="Train our class-conditional pixel-space DDPM (diffusers UNet2DModel + DDPMScheduler) with "
                    "label dropout for classifier-free guidance. One --class per class, in id order. Snapshots "
                    "(grids per class × guidance scale, log.jsonl, state.pt, latest/ in diffusers layout) go to --out. "
                    "Several GPUs: `torchrun --nproc_per_node N -m engines train-diffusion …` (or accelerate launch), "
                    "--batch is the global batch.")
    p.add_argument("--class", dest="classes", type=_class_folder, action="append", required=True,
                   metavar="NAME=FOLDER", help="a class and its image folder (repeat; order = class ids)")
    add_flags(p, DiffusionTrainConfig)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    names = [n for n, _ in args.classes]
    if len(set(names)) != len(names):
        raise LatentStudioError(f"Class names must be unique, got {names}.")
    config = DiffusionTrainConfig.from_args(args, classes=dict(args.classes))  # checked before torch loads
    from ..diffusion.train import train
    return report_training(train(config))
