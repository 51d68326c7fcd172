"""What the CLI commands share: model/device flags, tqdm progress, writing images, the training commands' flags and
run, and the projection flags and batch jobs of invert and scribble."""
from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..base import ProgressCallback
from ..options import add_flag, add_flags

if TYPE_CHECKING:  # each command imports what it runs with inside its run function (see main.py)
    from PIL import Image
    from tqdm import tqdm


def add_command(sub: argparse._SubParsersAction, name: str, description: str,
                run: Optional[Callable[[argparse.Namespace], int]] = None, **kwargs: Any) -> argparse.ArgumentParser:
    """The parser of command ``name``: its line in `main.COMMANDS` as help, ``description`` (a text block: its
    white space is folded, as --help shows it), other ``add_parser`` options (``kwargs``) and, when given, the
    ``run`` it calls (see main.py)."""
    from .main import COMMANDS
    p = sub.add_parser(name, help=COMMANDS[name][1], description=" ".join(description.split()), **kwargs)
    if run is not None:
        p.set_defaults(run=run)
    return p


def add_out_flag(p: argparse.ArgumentParser, help: str = "output folder") -> None:
    p.add_argument("--out", type=Path, required=True, help=help)


def add_device_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto",
                   help="where to run: 'auto' (CUDA if present, else CPU), 'cpu', 'cuda' or 'cuda:N' (default: auto)")


def known_models_help(kind: str) -> str:
    """The known model names of ``kind`` ("gan" / "diffusion") with resolution and size, for --help texts.

    argparse formats help strings with %, so none may appear here (none does: names, px, MB, GB).
    """
    from .. import catalog
    entries = ", ".join(f"{m.name} ({m.resolution} px, {m.size}{', turbo' if m.turbo else ''})"
                        for m in catalog.known(kind))
    where = "torch.hub's cache" if catalog.catalog_kind(kind) == "gan" else "the Hugging Face cache"
    return (f"known name, downloaded once into {where}: {entries}; see `python -m engines models`. "
            "A local path with the same name wins")


def known_models_epilog() -> str:
    """Every known model, one per line, for an epilog / `python -m engines models`."""
    from .. import catalog
    lines = ["known models (downloaded on first use; `python -m engines models` for sources and licences):"]
    lines += [f"  {m.name:<22} {m.kind:<9} {m.resolution:>4} px  {m.size:<13} {m.title}"
              + (f"; defaults {m.defaults()}" if m.defaults() else "") for m in catalog.known()]
    return "\n".join(lines)


def add_gan_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="default",
                   help="GAN source: 'default' (our weights/), a local folder/.safetensors/.pkl/.pt, "
                        "'hf:org/repo[:file]', an http(s) URL, or a " + known_models_help("gan") +
                        " (default: default)")
    p.add_argument("--arch", choices=["stylegan2", "dcgan"], default="stylegan2",
                   help="which default GAN 'default' means (default: stylegan2); ignored for other sources")
    p.add_argument("--class", dest="class_label", default=None, metavar="CLASS",
                   help="for class-conditional models (c_dim > 0): the class, as an index or a name where the "
                        "model has class names; required for them, refused for unconditional models")
    add_device_flag(p)


def add_training_flags(p: argparse.ArgumentParser, config: type, trainer: str,
                       values: Callable[[argparse.Namespace], dict] = lambda args: {}) -> None:
    """A training command's flags and run. The flags: one per field of the trainer's ``config`` (`add_flags`). The
    run: the config from them (``values``: fields from the command's own flags), checked before torch loads (a bad
    value is one line naming the field and its range); ``trainer`` ("module:function", e.g.
    "engines.stylegan.train:train") imported and called with it; its summary printed as one JSON line, once
    (under torchrun / accelerate launch every process trains and the main one reports)."""
    add_flags(p, config)

    def run(args: argparse.Namespace) -> int:
        checked = config.from_args(args, **values(args))
        module, _, function = trainer.partition(":")
        summary = getattr(importlib.import_module(module), function)(checked)
        from accelerate import PartialState
        if PartialState().is_main_process:
            print(json.dumps(summary))
        return 0

    p.set_defaults(run=run)


def tqdm_progress(desc: str) -> tuple[ProgressCallback, "tqdm"]:
    """A progress callback that drives a tqdm bar (the engines' ``(step, total, preview)`` protocol)."""
    from tqdm import tqdm
    bar = tqdm(desc=desc, unit="step", leave=False)

    def progress(step: int, total: int, preview: Optional["Image.Image"] = None) -> None:
        bar.total = total
        bar.n = step
        bar.refresh()

    return progress, bar


def write_images(images: list["Image.Image"], out: Path, prefix: str = "sample") -> list[Path]:
    """OUT ending in .png/.jpg → one grid image; otherwise a folder with one PNG per image."""
    from .. import imaging
    if out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        out.parent.mkdir(parents=True, exist_ok=True)
        imaging.make_grid(images).save(out)
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, img in enumerate(images):
        path = out / f"{prefix}_{i:04d}.png"
        img.save(path)
        paths.append(path)
    return paths


def write_json(data: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_photo_flags(p: argparse.ArgumentParser, *, then: str) -> None:
    """--pti and --face for commands that invert photos; ``then``: what happens to the photo afterwards."""
    from ..stylegan.options import PhotoOptions
    add_flag(p, "--pti", PhotoOptions.limit("pti_steps"), dest="pti", metavar="STEPS",
             help="photos: pivotal tuning, tune a copy of the generator to each photo for STEPS steps (about 200 for "
                  "~30 dB with our 64 px model; 0 = off)")
    p.add_argument("--face", action="store_true",
                   help=f"photos: find the cat face (OpenCV), use it framed like the training photos and {then}")


def gan_engine(args: argparse.Namespace) -> Any:
    """The GAN the flags of `add_gan_flags` name, with its class fixed when ``--class`` was given."""
    from ..stylegan.engine import GanEngine
    engine = GanEngine(args.model, arch=args.arch, device=args.device)
    return engine.for_class(args.class_label)


def add_batch_inputs(p: argparse.ArgumentParser, dest: str, what: str) -> None:
    """The inputs of a command that also runs as a batch job (`batch.expand_inputs`): ``what`` (e.g. "photos
    (centre-cropped …)"), folders of them or .txt lists, and what a batch job does, for --help."""
    p.add_argument(dest, nargs="+", type=Path,
                   help=f"{what}; folders of them and .txt lists (one path a line) make a batch job: resumable "
                        "(records/ per input; a rerun skips finished ones), with manifest.json and one merged "
                        "metrics.json, sharded across processes under `accelerate launch` or `torchrun`")


# ---------------------------------------------------------------------------------------------- projection
# what invert and scribble share


#: CLI flag → `ProjectionConfig` field, for the options a user sets on the command line.
PROJECTION_FLAGS = {
    "--space": "space", "--optimizer": "optimizer", "--steps": "steps", "--lr": "lr", "--init": "init",
    "--restarts": "restarts", "--perceptual": "perceptual", "--perceptual-weight": "perceptual_weight", "--l1": "l1",
    "--l2": "l2", "--reg": "reg", "--noise-reg": "noise_reg", "--follow-lines": "follow_lines",
    "--coarse-to-fine": "coarse_to_fine"}


def add_projection_flags(p: argparse.ArgumentParser, defaults: dict) -> None:
    """The projection flags, with types, ranges and defaults from `ProjectionConfig` (``defaults``: this
    command's own, e.g. scribble's). Unset flags stay None, so the engine applies those same defaults."""
    from ..stylegan.options import ProjectionConfig
    add_gan_flags(p)
    limits = ProjectionConfig.limits()
    for flag, name in PROJECTION_FLAGS.items():
        limit = limits[name]
        if name in defaults:
            limit = dataclasses.replace(limit, default=defaults[name])
        add_flag(p, flag, limit, default=None)
    p.add_argument("--optimize-noise", action=argparse.BooleanOptionalAction, default=None,
                   help="also fit StyleGAN2's per-pixel noise maps (fine detail: stripes, pupils), kept noise-like by "
                        "--noise-reg and saved in the latent .npz (default: on for StyleGAN2 inversion; for scribbles only "
                        "with --follow-lines 0.75 or more)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    add_out_flag(p)


def projection_options(args: argparse.Namespace) -> dict:
    """The options the user set (the engine fills in the rest and checks them all)."""
    opts = {name: getattr(args, name) for name in PROJECTION_FLAGS.values() if getattr(args, name) is not None}
    if args.optimize_noise is not None:
        opts["optimize_noise"] = args.optimize_noise
    return opts


def projection_job(args: argparse.Namespace, command: str, inputs: list, expanded: bool, chunk: int, options: dict):
    """The batch job of invert or scribble: resumable (records, manifest) for a folder / list, or under several processes."""
    from .. import batch
    state = batch.process_state(args.device)
    return batch.BatchJob(command, inputs, args.out, {**options, "model": args.model, "arch": args.arch,
                                                     "class": args.class_label, "seed": args.seed},
                          chunk=chunk, resumable=expanded or state.num_processes > 1, state=state)
