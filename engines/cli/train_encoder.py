"""``python -m engines train-encoder``: train an e4e-style image → w+ encoder for a StyleGAN2 model."""
from __future__ import annotations

import argparse

from ..options import add_flags
from ..stylegan.train_options import EncoderTrainConfig
from .common import report_training


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-encoder", help="train an image → w+ encoder for a StyleGAN2 (fast inversion start)",
        description="Train an e4e-style encoder (image → w+) for a trained StyleGAN2 on its own samples and real "
                    "photos; inversion then starts from the encoding and refines it in a few steps. Snapshots "
                    "(held-out figure, log.jsonl with held-out PSNR, state.pt, latest/) go to --out; ship by "
                    "copying latest/ to MODEL/encoder/.")
    add_flags(p, EncoderTrainConfig)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = EncoderTrainConfig.from_args(args)  # checked before torch loads
    from ..stylegan.encoder_train import train_encoder
    return report_training(train_encoder(config))
