"""``python -m engines train-encoder``: train an e4e-style image → w+ encoder for a StyleGAN2 model."""
from __future__ import annotations

import argparse

from ..stylegan.train_options import EncoderTrainConfig
from .common import add_command, add_training_flags


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "train-encoder", """
        Train an e4e-style encoder (image → w+) for a trained StyleGAN2 on its own samples and real photos; inversion
        then starts from the encoding and refines it in a few steps. Snapshots (held-out figure, log.jsonl with
        held-out PSNR, state.pt, latest/) go to --out; ship by copying latest/ to MODEL/encoder/.""")
    add_training_flags(p, EncoderTrainConfig, "engines.stylegan.encoder_train:train_encoder")
