"""`SDEditOptions` owns every SDEdit limit: the engine checks once; CLI flags and the SDEdit tab take their ranges from it."""
from __future__ import annotations

import pytest

from engines.base import LatentStudioError
from engines.cli.main import build_parser
from engines.diffusion.options import SDEditOptions
from engines.diffusion.schedulers import scheduler_names


def test_the_limits():
    L = SDEditOptions.limit
    assert (L("steps").min, L("steps").max, L("steps").default) == (1, 1000, 50)
    assert (L("n").min, L("n").max) == (1, 16) and (L("frames").min, L("frames").max) == (0, 100)
    assert (L("guidance").min, L("guidance").max) == (0.0, 50.0) and L("strength").default == 0.6
    assert L("scheduler").choices == tuple(scheduler_names()) and L("scheduler").default == "ddim"
    for name, limit in SDEditOptions.limits().items():
        assert limit.label and (limit.help or name == "t0")
        if limit.kind == "number":
            assert limit.min < limit.max and (limit.default is None or limit.min <= limit.default <= limit.max)


def test_check_resolves_the_noise_level_and_names_fields():
    assert SDEditOptions().check().strength == 0.6
    assert SDEditOptions(t0=290, strength=None).check(num_train_timesteps=1000).strength == pytest.approx(0.29)
    assert SDEditOptions(t0=0).check().strength == 0.0
    checked = SDEditOptions(steps=10.0, n=2.0, scheduler="DDPM").check()
    assert (checked.steps, checked.n, checked.scheduler) == (10, 2, "ddpm") and type(checked.steps) is int
    with pytest.raises(LatentStudioError, match=r"^Steps must be between 1 and 1000, got 5000\.$"):
        SDEditOptions(steps=5000).check()
    with pytest.raises(LatentStudioError, match=r"t0 \(timesteps of 100\) must be between 0 and 100, got 500"):
        SDEditOptions(t0=500).check(num_train_timesteps=100)


def _flag(parser, command: str, flag: str):
    sub = next(a for a in parser._actions if a.dest == "command" or hasattr(a, "choices") and isinstance(a.choices, dict))
    return next(a for a in sub.choices[command]._actions if flag in a.option_strings)


@pytest.mark.parametrize("command", ["sdedit", "compare"])
def test_cli_flags_take_types_defaults_and_ranges_from_the_options(command):
    parser = build_parser()
    for flag, name in [("--strength", "strength"), ("--t0", "t0"), ("--eta", "eta"), ("--guidance", "guidance"),
                       ("--steps", "steps"), ("--n", "n"), ("--frames", "frames")]:
        if command == "compare" and flag in ("--n", "--frames"):
            continue
        action, limit = _flag(parser, command, flag), SDEditOptions.limit(name)
        assert action.type is (int if limit.integer else float)
        assert limit.range_text() in action.help
        assert action.default == (None if limit.optional or name == "steps" else limit.default)
    assert _flag(parser, command, "--scheduler").choices == list(scheduler_names())


def test_the_sdedit_tab_takes_its_ranges_from_the_options():
    gr = pytest.importorskip("gradio")
    from demo import sdedit_tab
    from demo.registry import Registry
    from conftest import pixel_engine
    engine = pixel_engine()
    with gr.Blocks() as blocks:
        with gr.Tabs():
            tab = sdedit_tab.build(Registry(diffusion=engine))
    sliders = {b.label: b for b in blocks.blocks.values() if isinstance(b, gr.Slider)}
    for label, name in [("Steps (full schedule)", "steps"), ("Guidance scale", "guidance"), ("Samples", "n"),
                        ("eta (DDIM noise)", "eta"), ("Strength (t0 = strength × 1000)", "strength")]:
        slider, limit = sliders[label], SDEditOptions.limit(name)
        assert (slider.minimum, slider.maximum, slider.step) == (limit.min, limit.max, limit.step or 1), label
    assert sliders["Strength (t0 = strength × 1000)"].value == SDEditOptions.limit("strength").default
    assert tab.steps.value == engine.default_steps and tab.guidance.value == engine.default_guidance
