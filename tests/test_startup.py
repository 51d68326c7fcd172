"""Start-up: the CLI answers --help and argument errors before torch, diffusers or gradio are loaded, and the
reconstruction figures need no torchmetrics (its import cost 3.3 s of every run). Behaviour, not timing: the
times are `bench.startup`'s job."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engines.cli.main import COMMANDS, build_parser
from engines.evaluation.faithfulness import psnr, reconstruction, ssim

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "diffusers", "transformers", "gradio", "torchmetrics", "accelerate", "cv2")


def _loaded_after(args: list[str]) -> tuple[int, list[str], str]:
    """Run ``python -m engines ARGS`` in a fresh interpreter: (exit code, heavy modules loaded, output)."""
    code = ("import contextlib, io, json, runpy, sys\n"
            f"sys.argv = ['engines', *{args!r}]\n"
            "out, rc = io.StringIO(), 0\n"
            "with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):\n"
            "    try:\n"
            "        runpy.run_module('engines', run_name='__main__')\n"
            "    except SystemExit as exc:\n"
            "        rc = exc.code if isinstance(exc.code, int) else 1\n"
            f"print(json.dumps([rc, sorted(m for m in {HEAVY!r} if m in sys.modules), out.getvalue()]))\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    rc, loaded, output = json.loads(done.stdout.strip().splitlines()[-1])
    return rc, loaded, output


def test_help_lists_every_command_without_loading_torch_diffusers_or_gradio():
    rc, loaded, output = _loaded_after(["--help"])
    assert rc == 0 and loaded == []
    for name, (_, line) in COMMANDS.items():
        assert name in output and line.split()[0] in output


def test_an_unknown_command_is_refused_without_loading_torch():
    rc, loaded, output = _loaded_after(["invrt", "photo.png"])
    assert rc == 2 and loaded == [] and "invalid choice: 'invrt'" in output


@pytest.mark.parametrize("command", list(COMMANDS))
def test_each_commands_help_and_argument_errors_answer_before_torch(command):
    rc, loaded, output = _loaded_after([command, "--help"])
    assert rc == 0 and f"python -m engines {command}" in output and loaded == []
    rc, loaded, output = _loaded_after([command, "--no-such-flag"])
    assert rc == 2 and "error:" in output and loaded == []


def test_invert_refuses_a_malformed_number_before_torch():
    rc, loaded, output = _loaded_after(["invert", "cat.png", "--steps", "many", "--out", "x"])
    assert rc == 2 and "--steps: invalid int value: 'many'" in output and loaded == []


@pytest.mark.parametrize("args, message", [
    (["train-gan", "--data", "d", "--out", "o", "--kimg", "1", "--batch", "1"], "batch must be between 2 and 65536"),
    (["train-diffusion", "--class", "cat=d", "--out", "o", "--kimg", "1", "--label-dropout", "2"],
     "label_dropout must be between 0.0 and 1.0, got 2.0."),
    (["train-encoder", "--data", "d", "--out", "o", "--minutes", "1", "--mixing", "-1"],
     "mixing must be between 0.0 and 1.0, got -1.0."),
    (["train-gan", "--data", "d", "--out", "o"], "Give a training budget"),
])
def test_a_bad_training_value_is_refused_before_torch(args, message):
    """The training configs are plain Python: their checks (field, range) answer before the trainers load."""
    rc, loaded, output = _loaded_after(args)
    assert rc == 2 and f"error: {message}" in output and loaded == []


def test_the_registry_names_every_command_its_module_registers_with_the_same_help():
    """COMMANDS is the one list --help shows without importing the modules: it must agree with them."""
    parser = build_parser()  # every module in full
    sub = next(a for a in parser._actions if isinstance(a, __import__("argparse")._SubParsersAction))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert registered == {name: line for name, (_, line) in COMMANDS.items()}
    for name in COMMANDS:
        assert sub.choices[name].get_default("run") is not None, f"{name} sets no run function"


def test_invert_and_scribble_are_registered_by_modules_named_for_them():
    """Issue 32: engines/cli/project.py registered both; each now has its module, the shared flags are in common."""
    assert (COMMANDS["invert"][0], COMMANDS["scribble"][0]) == ("invert", "scribble")
    assert not (ROOT / "engines" / "cli" / "project.py").exists()


def test_a_command_runs_through_the_lazy_parser(tmp_path, capsys):
    from engines.cli.main import main
    assert main(["models", "--json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)


# ---------------------------------------------------------------------------------------------- PSNR / SSIM

def _pairs():
    g = torch.Generator().manual_seed(0)
    for shape in [(3, 3, 64, 64), (2, 1, 16, 16), (1, 3, 7, 9)]:
        x = torch.rand(shape, generator=g)
        yield x, (x + 0.1 * torch.randn(shape, generator=g)).clamp(0, 1)


def test_ssim_and_psnr_equal_torchmetrics_defaults():
    tm = pytest.importorskip("torchmetrics.functional.image")
    for x, y in _pairs():
        want_ssim = tm.structural_similarity_index_measure(x, y, data_range=1.0, reduction="none")
        want_psnr = tm.peak_signal_noise_ratio(x, y, data_range=1.0, reduction="none", dim=[1, 2, 3])
        torch.testing.assert_close(ssim(x, y), want_ssim, atol=1e-6, rtol=0)
        torch.testing.assert_close(psnr(x, y), want_psnr, atol=1e-4, rtol=0)


def test_ssim_and_psnr_on_known_cases():
    x, y = next(_pairs())
    assert torch.allclose(ssim(x, x), torch.ones(3)) and (ssim(x, y) < 0.99).all()
    assert (ssim(x, (x + 0.3 * (y - x) / 0.1).clamp(0, 1)) < ssim(x, y)).all()     # more noise, less similar
    assert torch.allclose(ssim(x, 1 - x).mean(), ssim(1 - x, x).mean())            # symmetric
    flat = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(psnr(flat, flat + 0.1), torch.tensor([20.0]), atol=1e-4)  # 10·log10(1 / 0.01)
    figures = reconstruction(x * 2 - 1, y * 2 - 1)
    assert figures["ssim"] == pytest.approx(ssim(x, y).tolist()) and figures["psnr"] == pytest.approx(psnr(x, y).tolist())


def test_no_engine_module_imports_torchmetrics():
    """torchmetrics' import loads every metric it has (3.3 s on 2 cores): the engines use `psnr` / `ssim` instead."""
    users = [str(p.relative_to(ROOT)) for p in (ROOT / "engines").rglob("*.py")
             if any(s in p.read_text() for s in ("import torchmetrics", "from torchmetrics"))]
    assert users == []
