"""``python -m engines train-gan``: train (or fine-tune) our StyleGAN2 / DCGAN on a folder of images."""
from __future__ import annotations

import argparse

from ..stylegan.train_options import TrainConfig
from .common import add_command, add_training_flags


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "train-gan", """
        Train our StyleGAN2 (or the DCGAN baseline) on a folder of images, or fine-tune a trained model with --resume.
        Snapshots (sample grid, log.jsonl, state.pt, latest/) go to --out; --resume OUT continues a run exactly,
        --resume MODEL_FOLDER fine-tunes shipped weights. Several GPUs: `torchrun --nproc_per_node N -m engines
        train-gan …` (or accelerate launch), --batch is the global batch.""")
    add_training_flags(p, TrainConfig, "engines.stylegan.train:train")
