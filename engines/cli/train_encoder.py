"""``python -m engines train-encoder``: train an e4e-style image → w+ encoder for a StyleGAN2 model."""
from __future__ import annotations

import argparse
import json

from .common import positive_int
from .train import _float


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-encoder", help="train an image → w+ encoder for a StyleGAN2 (fast inversion start)",
        description="Train an e4e-style encoder (image → w+) for a trained StyleGAN2 on its own samples and real "
                    "photos; inversion then starts from the encoding and refines it in a few steps. Snapshots "
                    "(held-out figure, log.jsonl with held-out PSNR, state.pt, latest/) go to --out; ship by "
                    "copying latest/ to MODEL/encoder/.")
    p.add_argument("--model", default="default", help="the StyleGAN2 (with its discriminator): 'default' or a folder")
    p.add_argument("--data", required=True, help="the photos the model was trained on (their training split is used)")
    p.add_argument("--out", required=True, help="run folder for snapshots")
    p.add_argument("--resume", help="a run folder (exact resume) or an encoder folder (fine-tune)")
    p.add_argument("--minutes", type=_float, help="wall-clock budget")
    p.add_argument("--kimg", type=_float, help="budget in thousands of training images shown")
    p.add_argument("--batch", type=positive_int, default=16, help="even: half generated samples, half photos")
    p.add_argument("--lr", type=_float, default=2e-4)
    p.add_argument("--perceptual", type=_float, default=0.1, help="weight of the discriminator-feature distance")
    p.add_argument("--latent", type=_float, default=1.0, help="weight of the w+ error on generated samples")
    p.add_argument("--offset-reg", type=_float, default=0.01, help="weight keeping per-layer offsets small (editable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--snapshot-minutes", type=_float, default=10.0)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..stylegan.encoder_train import EncoderTrainConfig, train_encoder
    config = EncoderTrainConfig(model=args.model, data=args.data, out=args.out, resume=args.resume, batch=args.batch,
                                minutes=args.minutes, kimg=args.kimg, lr=args.lr, perceptual=args.perceptual,
                                latent=args.latent, offset_reg=args.offset_reg, seed=args.seed, device=args.device,
                                snapshot_minutes=args.snapshot_minutes)
    print(json.dumps(train_encoder(config)))
    return 0
