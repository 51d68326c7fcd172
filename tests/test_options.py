"""`engines.options`: option dataclasses that own their limits — the check, CLI flags and UI ranges from one place."""
from __future__ import annotations

import argparse
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import pytest

from engines.base import LatentStudioError
from engines.options import REQUIRED, Limit, Options, add_flag, add_flags, option


@dataclass
class Demo(Options):
    steps: int = option(300, "Steps", "optimisation steps", min=1, max=10_000, integer=True, step=10)
    lr: float = option(0.1, "Learning rate", min=0.0, max=1.0)
    space: str = option("w+", "Space", "latent space", choices=("z", "w", "w+"))
    scale: Optional[float] = option(None, "Scale", min=0.0, max=5.0, shown_default=1.0)
    note: Optional[str] = option(None, "Note")
    plain: int = 3  # no limit: passed through as is


def test_limits_come_from_the_fields():
    limits = Demo.limits()
    assert list(limits) == ["steps", "lr", "space", "scale", "note"]
    steps = Demo.limit("steps")
    assert (steps.kind, steps.min, steps.max, steps.default, steps.integer, steps.label) == ("number", 1, 10_000, 300,
                                                                                            True, "Steps")
    assert limits["space"].kind == "choice" and limits["note"].kind == "text" and limits["note"].optional
    assert limits["scale"].optional and limits["scale"].default == 1.0 and Demo().scale is None
    with pytest.raises(KeyError, match="no option 'nope'"):
        Demo.limit("nope")
    with pytest.raises(TypeError, match="needs both min and max"):
        option(1, "Half", min=0)


def test_check_converts_and_names_the_field():
    ok = Demo(steps=20.0, lr=1, space=" W+ ", scale=None, plain="x").check()
    assert ok == Demo(steps=20, lr=1.0, space="w+", scale=None, plain="x") and type(ok.steps) is int
    for kwargs, message in [
        (dict(steps=50_000), "Steps must be between 1 and 10000, got 50000."),
        (dict(steps=2.5), "Steps must be a whole number, got 2.5."),
        (dict(steps=True), "Steps must be a whole number between 1 and 10000, got True."),
        (dict(lr="fast"), "Learning rate must be a number between 0.0 and 1.0, got 'fast'."),
        (dict(lr=float("nan")), "Learning rate must be between 0.0 and 1.0, got nan."),
        (dict(space="q"), "Unknown space 'q': use one of z, w, w+."),
        (dict(scale=9), "Scale must be between 0.0 and 5.0, got 9."),
        (dict(note=3), "Note must be text, got int."),
    ]:
        with pytest.raises(LatentStudioError) as err:
            Demo(**kwargs).check()
        assert str(err.value) == message


def test_ranges_for_flags_and_sliders():
    assert Demo.limit("steps").slider() == {"minimum": 1, "maximum": 10_000, "value": 300, "step": 10}
    assert Demo.limit("lr").slider(0.5) == {"minimum": 0.0, "maximum": 1.0, "value": 0.5}
    with pytest.raises(TypeError):
        Demo.limit("space").slider()
    p = argparse.ArgumentParser()
    add_flag(p, "--steps", Demo.limit("steps"))
    add_flag(p, "--space", Demo.limit("space"))
    add_flag(p, "--scale", Demo.limit("scale"))
    add_flag(p, "--note", Demo.limit("note"), help="100% free text")
    args = p.parse_args([])
    assert (args.steps, args.space, args.scale, args.note) == (300, "w+", None, None)
    assert p.parse_args(["--steps", "50000"]).steps == 50_000  # stated, not enforced: the engine checks once
    help_text = p.format_help()
    assert "optimisation steps; 1-10000 (default: 300)" in help_text and "(default: 1)" in help_text
    assert "100% free text" in help_text
    with pytest.raises(SystemExit):
        p.parse_args(["--space", "q"])


def test_callables_never_reach_as_dict():
    @dataclass
    class WithHook(Options):
        steps: int = option(1, "Steps", min=1, max=2, integer=True)
        hook: object = None

    assert WithHook(hook=print).as_dict() == {"steps": 1}
    assert Limit("X", min=0, max=1).flag_help() == "0-1"


@dataclass(kw_only=True)
class Run(Options):
    """What a training command's config looks like: required text, switches, dicts, optional numbers."""
    data: str = option(REQUIRED, "data", "image folder")
    batch: int = option(32, "batch", "images per step", min=1, max=4096, integer=True)
    ema_rampup: Optional[float] = option(0.05, "ema_rampup", "ramp-up share", min=0.0, max=1.0, optional=True)
    lr: Optional[float] = option(None, "lr", "learning rate", min=1e-8, max=1.0, default_text="per architecture")
    arch: str = option("stylegan2", "arch", "architecture", choices=("stylegan2", "dcgan"))
    xflip: bool = option(True, "xflip", "mirror images at random")
    model: dict = option({}, "model", "architecture overrides")
    notes: list = None  # no limit: no flag


def test_switches_dicts_and_required_options():
    limits = Run.limits()
    assert (limits["xflip"].kind, limits["model"].kind, limits["data"].kind) == ("switch", "json", "text")
    with pytest.raises(TypeError, match="data"):
        Run()  # a required option has no default
    a, b = Run(data="x"), Run(data="y")
    a.model["channel_base"] = 2
    assert b.model == {} and Run.limit("model").default == {}  # each instance its own dict
    assert Run(data=Path("/tmp/x")).check().data == "/tmp/x"   # a path is taken as its text
    for kwargs, message in [(dict(xflip=1), "xflip must be true or false, got 1."),
                            (dict(model=[1]), "model must be a dict (a JSON object), got [1]."),
                            (dict(data=None), "data must be text, got NoneType.")]:
        with pytest.raises(LatentStudioError) as err:
            Run(**{"data": "x", **kwargs}).check()
        assert str(err.value) == message


def test_add_flags_makes_one_flag_per_limited_field_and_from_args_builds_the_options_back():
    p = argparse.ArgumentParser()
    flags = add_flags(p, Run)
    assert flags == {"data": "--data", "batch": "--batch", "ema_rampup": "--ema-rampup", "lr": "--lr",
                     "arch": "--arch", "xflip": "--xflip", "model": "--model-json"}
    assert Run.from_args(p.parse_args(["--data", "d"])) == Run(data="d")  # every default is the field's
    args = p.parse_args(["--data", "d", "--batch", "8", "--no-xflip", "--model-json", '{"channel_base": 2048}',
                         "--lr", "0.01", "--arch", "dcgan"])
    assert Run.from_args(args) == Run(data="d", batch=8, xflip=False, model={"channel_base": 2048}, lr=0.01,
                                      arch="dcgan")
    assert Run.from_args(args, data="other", notes=[1]).data == "other"  # fields given otherwise win
    with pytest.raises(LatentStudioError, match="--model-json is not valid JSON"):
        Run.from_args(p.parse_args(["--data", "d", "--model-json", "{oops"]))
    with pytest.raises(SystemExit):
        p.parse_args([])  # --data is required
    help_text = " ".join(p.format_help().split())
    for shown in ("--data DATA image folder", "images per step; 1-4096 (default: 32)", "(default: 0.05)",
                  "learning rate; 1e-08-1 (default: per architecture)", "--xflip, --no-xflip mirror images at random "
                  "(default: on)", "--model-json JSON architecture overrides (default: {})"):
        assert shown in help_text
    assert [f.name for f in fields(Run) if f.name not in flags] == ["notes"]
    assert add_flags(argparse.ArgumentParser(), Run, skip=("model", "lr")).keys() == flags.keys() - {"model", "lr"}
