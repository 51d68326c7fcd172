"""``python -m engines train-gan``: train (or fine-tune) our StyleGAN2 / DCGAN on a folder of images."""
from __future__ import annotations

import argparse

from ..options import add_flags
from ..stylegan.train_options import TrainConfig
from .common import report_training


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-gan", help="train or fine-tune a GAN on a folder of images",
        description="Train our StyleGAN2 (or the DCGAN baseline) on a folder of images, or fine-tune a trained "
                    "model with --resume. Snapshots (sample grid, log.jsonl, state.pt, latest/) go to --out; "
                    "--resume OUT continues a run exactly, --resume MODEL_FOLDER fine-tunes shipped weights. Several GPUs: "
                    "`torchrun --nproc_per_node N -m engines train-gan …` (or accelerate launch), --batch is the global batch.")
    add_flags(p, TrainConfig)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = TrainConfig.from_args(args)  # checked before torch loads
    from ..stylegan.train import train
    return report_training(train(config))
