"""``python -m engines train-gan``: train (or fine-tune) our StyleGAN2 / DCGAN on a folder of images."""
from __future__ import annotations

import argparse
import json

from .common import add_scale_flags, positive_int


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}")


def _main_process() -> bool:
    from accelerate import PartialState
    return PartialState().is_main_process


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-gan", help="train or fine-tune a GAN on a folder of images",
        description="Train our StyleGAN2 (or the DCGAN baseline) on a folder of images, or fine-tune a trained "
                    "model with --resume. Snapshots (sample grid, log.jsonl, state.pt, latest/) go to --out; "
                    "--resume OUT continues a run exactly, --resume MODEL_FOLDER fine-tunes shipped weights. Several GPUs: "
                    "`torchrun --nproc_per_node N -m engines train-gan …` (or accelerate launch), --batch is the global batch.")
    p.add_argument("--data", required=True, help="folder of training images (a validation share is held out)")
    p.add_argument("--out", required=True, help="run folder for snapshots")
    p.add_argument("--arch", choices=["stylegan2", "dcgan"], default="stylegan2")
    p.add_argument("--resume", help="a run folder (exact resume) or a model folder in our format (fine-tune)")
    p.add_argument("--minutes", type=_float, help="wall-clock budget")
    p.add_argument("--kimg", type=_float, help="budget in thousands of training images shown")
    p.add_argument("--batch", type=positive_int, default=32)
    p.add_argument("--resolution", type=positive_int, default=64)
    p.add_argument("--lr", type=_float, help="learning rate (default: 0.0025 StyleGAN2, 0.0002 DCGAN)")
    p.add_argument("--r1-gamma", type=_float, help="R1 weight (default: 0.2 StyleGAN2, 0 DCGAN)")
    p.add_argument("--mixing", type=_float, help="style-mixing probability (default: 0.9 StyleGAN2)")
    p.add_argument("--augment", default="color,translation,cutout",
                   help="DiffAugment policy: comma-separated subset of color,translation,cutout, or 'none'")
    p.add_argument("--no-xflip", action="store_true", help="do not mirror training images at random")
    p.add_argument("--ema-kimg", type=_float, default=10.0, help="EMA half-life in kimg at batch 32")
    p.add_argument("--val-fraction", type=_float, default=0.05, help="share of images held out (default: 0.05)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--snapshot-minutes", type=_float, default=5.0)
    add_scale_flags(p)
    p.add_argument("--model-json", default="{}",
                   help='architecture overrides as JSON, e.g. \'{"channel_base": 2048}\' (new runs only)')
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..base import LatentStudioError
    from ..stylegan.train import TrainConfig, train
    try:
        model = json.loads(args.model_json)
    except json.JSONDecodeError as exc:
        raise LatentStudioError(f"--model-json is not valid JSON: {exc}") from exc
    config = TrainConfig(data=args.data, out=args.out, arch=args.arch, resume=args.resume, resolution=args.resolution,
                         batch=args.batch, minutes=args.minutes, kimg=args.kimg, lr=args.lr, r1_gamma=args.r1_gamma,
                         mixing=args.mixing, augment=args.augment, xflip=not args.no_xflip, ema_kimg=args.ema_kimg,
                         val_fraction=args.val_fraction, seed=args.seed, device=args.device,
                         snapshot_minutes=args.snapshot_minutes,
                         mixed_precision=args.mixed_precision, accumulate=args.accumulate, model=model)
    summary = train(config)
    if _main_process():  # under torchrun / accelerate launch every process trains; one reports
        print(json.dumps(summary))
    return 0
