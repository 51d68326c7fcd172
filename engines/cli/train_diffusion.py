"""``python -m engines train-diffusion``: train (or resume) our class-conditional pixel DDPM."""
from __future__ import annotations

import argparse
import json

from .common import add_scale_flags, positive_int
from .train import _float, _main_process


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
    p.add_argument("--out", required=True, help="run folder for snapshots")
    p.add_argument("--resume", help="a run folder of train-diffusion to continue exactly")
    p.add_argument("--init", help="a saved pipeline folder (weights/ddpm-cats64, a run's latest/) to fine-tune: "
                                  "its UNet, fresh optimiser, EMA and counters")
    p.add_argument("--minutes", type=_float, help="wall-clock budget")
    p.add_argument("--kimg", type=_float, help="budget in thousands of training images shown")
    p.add_argument("--batch", type=positive_int, default=32)
    p.add_argument("--lr", type=_float, default=2e-4)
    p.add_argument("--warmup-steps", type=int, default=500)
    p.add_argument("--ema-decay", type=_float, default=0.9995)
    p.add_argument("--label-dropout", type=_float, default=0.1, help="share of labels replaced by the null class")
    p.add_argument("--min-class-share", type=_float, default=0.25,
                   help="each class is drawn at least this often (oversamples small classes)")
    p.add_argument("--resolution", type=positive_int,
                   help="train on images of this size (default: the model's, 64); e.g. 32 first, then resume at 64")
    p.add_argument("--prediction-type", choices=["v_prediction", "epsilon"], default="v_prediction",
                   help="what the UNet predicts (default: v, well-posed at both ends of the cosine schedule)")
    p.add_argument("--snr-gamma", type=_float, default=0.0,
                   help="min-SNR-γ loss weighting (e.g. 5); 0 = plain v-MSE (default: it learns colour and layout better)")
    p.add_argument("--no-xflip", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--snapshot-minutes", type=_float, default=10.0)
    add_scale_flags(p)
    p.add_argument("--unet-json", default="{}", help="UNet2DModel config overrides as JSON (new runs only)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..base import LatentStudioError
    from ..diffusion.train import DiffusionTrainConfig, train
    try:
        unet = json.loads(args.unet_json)
    except json.JSONDecodeError as exc:
        raise LatentStudioError(f"--unet-json is not valid JSON: {exc}") from exc
    names = [n for n, _ in args.classes]
    if len(set(names)) != len(names):
        raise LatentStudioError(f"Class names must be unique, got {names}.")
    config = DiffusionTrainConfig(classes=dict(args.classes), out=args.out, resume=args.resume, init=args.init,
                                  batch=args.batch,
                                  minutes=args.minutes, kimg=args.kimg, lr=args.lr, warmup_steps=args.warmup_steps,
                                  ema_decay=args.ema_decay, label_dropout=args.label_dropout,
                                  min_class_share=args.min_class_share, xflip=not args.no_xflip, seed=args.seed,
                                  device=args.device, snapshot_minutes=args.snapshot_minutes, unet=unet,
                                  mixed_precision=args.mixed_precision, accumulate=args.accumulate,
                                  prediction_type=args.prediction_type, snr_gamma=args.snr_gamma or None,
                                  resolution=args.resolution)
    summary = train(config)
    if _main_process():  # under torchrun / accelerate launch every process trains; one reports
        print(json.dumps(summary))
    return 0
