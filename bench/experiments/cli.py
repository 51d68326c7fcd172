"""Command line: pick the models, the inputs and the scale, run the studies, write the report."""
from __future__ import annotations

import argparse
import datetime
import shlex
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

from engines.base import LatentStudioError

from . import diffusion_studies, inversion_studies, latent_studies, report
from .context import FULL, QUICK, SHARED_DATA, Context
from .report import Study

STUDIES: dict[int, Callable[[Context], Study]] = {
    1: inversion_studies.losses,
    2: inversion_studies.generators,
    3: inversion_studies.spaces,
    4: inversion_studies.optimisers,
    5: latent_studies.interpolation,
    6: latent_studies.scribbles,
    7: diffusion_studies.sdedit,
    8: diffusion_studies.gan_vs_diffusion,
}


def parse(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    import bench.experiments as package
    p = argparse.ArgumentParser(prog="python -m bench.experiments", description=package.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder for report.md, results.json and figures/")
    p.add_argument("--quick", action="store_true", help="a smoke run of every study (a few minutes on a laptop CPU)")
    p.add_argument("--gan", default="default", help="StyleGAN2 source (studies 1-6, 8)")
    p.add_argument("--dcgan", default="default", help="DCGAN source (studies 2-3)")
    p.add_argument("--diffusion", default="default", help="diffusion source (studies 7-8)")
    p.add_argument("--features", default="default",
                   help="GAN whose discriminator features are the perceptual yardstick ('' = RMS pixels)")
    p.add_argument("--cats", type=Path, default=SHARED_DATA / "cats", help="photos; the held-out split gives targets")
    p.add_argument("--grumpy", type=Path, default=SHARED_DATA / "grumpy", help="more held-out photos for realism")
    p.add_argument("--sketches", type=Path, default=SHARED_DATA / "sketches")
    p.add_argument("--studies", default="1-8", help="which studies, e.g. 1-4 or 5,7 (default: all)")
    p.add_argument("--device", default="auto")
    return p.parse_args(argv)


def study_numbers(spec: str) -> list[int]:
    chosen: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        try:
            lo, _, hi = part.partition("-")
            chosen += list(range(int(lo), int(hi or lo) + 1))
        except ValueError:
            raise LatentStudioError(f"--studies takes numbers and ranges such as 1-4,7, not {spec!r}.") from None
    unknown = sorted(set(chosen) - set(STUDIES))
    if unknown:
        raise LatentStudioError(f"There is no study {unknown[0]}: choose from 1-{max(STUDIES)}.")
    return sorted(set(chosen))


def run(args: argparse.Namespace, argv: Sequence[str]) -> Path:
    start = time.perf_counter()
    numbers = study_numbers(args.studies)
    for folder in (args.cats, args.sketches):
        if not Path(folder).is_dir():
            raise LatentStudioError(f"{folder} does not exist: the studies need real photos (--cats) and sketches "
                                    f"(--sketches); by default they come from ../shared/data.")
    args.out.mkdir(parents=True, exist_ok=True)
    ctx = Context(QUICK if args.quick else FULL, args.out, gan_source=args.gan, dcgan_source=args.dcgan,
                  diffusion_source=args.diffusion, features_source=args.features, cats=args.cats,
                  grumpy=args.grumpy, sketches_dir=args.sketches, device=args.device)
    studies = []
    for number in numbers:
        print(f"study {number}: {STUDIES[number].__name__}", flush=True)
        t0 = time.perf_counter()
        study = STUDIES[number](ctx)
        study.seconds = time.perf_counter() - t0
        studies.append(study)
    models = {}
    if any(n <= 6 or n == 8 for n in numbers):
        models["StyleGAN2"] = _model(ctx.gan)
    if any(n in (2, 3) for n in numbers):
        models["DCGAN"] = _model(ctx.dcgan)
    if any(n >= 7 for n in numbers):
        models["diffusion"] = _model(ctx.diffusion)
    command = "python -m bench.experiments " + " ".join(shlex.quote(str(a)) for a in argv)
    header = {"scale": ctx.scale.name, "command": command,
              "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "machine": report.machine(),
              "models": models, "data": ctx.describe_data(), "features": ctx.dist.name,
              "scale_settings": ctx.scale.__dict__, "seconds": time.perf_counter() - start}
    path = report.write(args.out, header, studies)
    print(f"wrote {path} ({header['seconds'] / 60:.1f} min)")
    return path


def _model(engine) -> str:
    d = engine.describe()
    return f"`{d.source}` ({d.name}, {d.parameters / 1e6:.2f} M parameters{'' if 'UNTRAINED' not in d.notes else ', UNTRAINED'})"


def main(argv: Optional[Sequence[str]] = None) -> Path:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    try:
        return run(args, argv)
    except LatentStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
