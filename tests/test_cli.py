"""``python -m engines``: help, sample output forms, one-line errors with a non-zero exit."""
from __future__ import annotations

import subprocess
import sys

import pytest
from PIL import Image

from engines.cli.main import main
from engines.stylegan.checkpoints import save_gan


def test_help_explains_every_flag():
    out = subprocess.run([sys.executable, "-m", "engines", "sample", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--model", "--n", "--seed", "--truncation", "--out", "--device", "--noise-mode"):
        assert flag in out.stdout


def test_sample_grid_and_folder(tmp_path, tiny_g, tiny_d):
    save_gan(tmp_path / "m", tiny_g, tiny_d)
    assert main(["sample", "--model", str(tmp_path / "m"), "--n", "4", "--seed", "1", "--out", str(tmp_path / "g.png")]) == 0
    grid = Image.open(tmp_path / "g.png")
    assert grid.size[0] > 32 * 2
    assert main(["sample", "--model", str(tmp_path / "m"), "--n", "3", "--truncation", "0.7",
                 "--out", str(tmp_path / "dir")]) == 0
    assert sorted(p.name for p in (tmp_path / "dir").iterdir()) == ["sample_0000.png", "sample_0001.png", "sample_0002.png"]


def test_same_seed_same_files(tmp_path, tiny_g):
    save_gan(tmp_path / "m", tiny_g)
    for name in ("a", "b"):
        main(["sample", "--model", str(tmp_path / "m"), "--n", "2", "--seed", "9", "--out", str(tmp_path / name)])
    assert (tmp_path / "a" / "sample_0001.png").read_bytes() == (tmp_path / "b" / "sample_0001.png").read_bytes()


def test_errors_are_one_line_and_non_zero(tmp_path, capsys):
    assert main(["sample", "--model", str(tmp_path / "missing.pkl"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and len(err.splitlines()) == 1 and "missing.pkl" in err
    with pytest.raises(SystemExit) as exc:
        main(["sample", "--n", "0", "--out", "x.png"])
    assert exc.value.code != 0


def test_module_entry_point_runs_default_model(tmp_path):
    out = subprocess.run([sys.executable, "-m", "engines", "sample", "--n", "2", "--out", str(tmp_path / "d")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert len(list((tmp_path / "d").glob("*.png"))) == 2


@pytest.mark.parametrize("command, dest", [("invert", "images"), ("scribble", "sketch"), ("sdedit", "guide")])
def test_the_commands_that_run_batch_jobs_take_their_inputs_alike(command, dest):
    """One helper (common.add_batch_inputs): files, folders or .txt lists, and --help says what a batch job does."""
    import argparse

    from engines.cli.main import build_parser
    sub = next(a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction))
    inputs = next(a for a in sub.choices[command]._actions if a.dest == dest)
    assert inputs.nargs == "+" and "folders of them and .txt lists (one path a line) make a batch job" in inputs.help
    assert "resumable" in inputs.help and "manifest.json" in inputs.help
