"""bench.experiments: the ``--quick`` run of all eight studies writes a report whose numbers behave.

Runs the real default models on the held-out photos and sketches in ../shared/data (about two
minutes on two CPU cores), once for the module.
"""
from __future__ import annotations

import json
import re

import pytest

from bench.experiments import cli
from bench.experiments.context import QUICK, SHARED_DATA

needs_data = pytest.mark.skipif(not (SHARED_DATA / "cats").is_dir() or not (SHARED_DATA / "sketches").is_dir(),
                                reason="../shared/data (photos and sketches) is not beside the repository")


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    report = cli.main(["--quick", "--out", str(out)])
    return out, report.read_text(), json.loads((out / "results.json").read_text())


def _study(record, number):
    return next(s for s in record["studies"] if s["number"] == number)


def _rows(record, number, table=0):
    return _study(record, number)["tables"][table]["rows"]


@needs_data
def test_quick_run_reports_every_study_with_tables_figures_and_times(quick):
    out, text, record = quick
    assert record["scale"] == "quick" and record["seconds"] > 0 and record["machine"]["torch"]
    assert [s["number"] for s in record["studies"]] == list(range(1, 9))
    for number in range(1, 9):
        assert f"\n## {number}. " in text
        study = _study(record, number)
        assert study["tables"] and study["tables"][0]["rows"] and study["figures"] and study["findings"]
        assert study["seconds"] > 0
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text):      # every picture the report shows exists
        assert (out / link).is_file() and (out / link).stat().st_size > 1000
    assert "held-out photos" in text and "sketches from" in text    # the report says which inputs
    assert "Quick run" in text


@needs_data
def test_inversion_studies_give_sane_numbers_and_the_regulariser_pulls_toward_the_mean(quick):
    _, _, record = quick
    rows = _rows(record, 1)
    assert len(rows) == 12
    for r in rows:
        assert 8 < r["PSNR dB"] < 50 and 0 <= r["SSIM"] <= 1 and r["s/img"] > 0 and r["feature dist"] >= 0
    by = {r["loss"]: r for r in rows}
    assert by["L2 + 0.1·P + reg 1"]["latent dist"] < by["L2 + 0.1·P"]["latent dist"]
    generators = {r["generator, space"] for r in _rows(record, 2)}
    assert generators == {"DCGAN, z", "StyleGAN2, z", "StyleGAN2, w+"}
    spaces = {(r["space"], r["init"]) for r in _rows(record, 3)}
    assert {("w", "mean"), ("w", "random"), ("w+", "mean"), ("w+", "random"), ("z", "random")} <= spaces


@needs_data
def test_more_adam_steps_reach_a_lower_loss_and_take_longer(quick):
    _, _, record = quick
    adam = [r for r in _rows(record, 4) if r["optimiser"] == "adam"]
    assert [r["steps"] for r in adam] == list(QUICK.adam_budgets)
    assert adam[-1]["final loss"] < adam[0]["final loss"]
    assert adam[-1]["seconds (batch)"] > adam[0]["seconds (batch)"]
    assert {r["optimiser"] for r in _rows(record, 4)} == {"adam", "lbfgs"}


@needs_data
def test_interpolation_scores_each_path(quick):
    _, _, record = quick
    rows = {r["path"]: r for r in _rows(record, 5)}
    assert set(rows) == {"z slerp", "w lerp", "w+ lerp", "pixel cross-fade"}
    for r in rows.values():
        assert r["mean step (feature dist)"] > 0 and r["step variance"] >= 0 and r["largest / mean step"] >= 1


@needs_data
def test_scribble_and_sdedit_studies_cover_their_grids(quick):
    _, _, record = quick
    scribbles = _rows(record, 6)
    assert [(r["reg"], r["restarts"]) for r in scribbles] == [(0.0, 1), (0.001, 1), (0.01, 1), (0.1, 1), (1.0, 1), (0.01, 5)]
    assert scribbles[4]["latent dist sparse"] < scribbles[0]["latent dist sparse"]   # reg 1 stays nearer the mean
    sdedit = _rows(record, 7)
    assert len(sdedit) == len(QUICK.strengths) * len(QUICK.guidances) * 2 * len(QUICK.sdedit_steps)
    assert {r["N (of 1000)"] for r in sdedit} == {int(s * 1000) for s in QUICK.strengths}
    for r in sdedit + _rows(record, 8):
        assert 0 <= r["masked L2"] <= 1 and r["SWD × floor"] > 0 and r["nearest real"] >= 0
    engines = [r["engine"] for r in _rows(record, 8)]
    assert engines[0].startswith("GAN") and all(e.startswith("SDEdit") for e in engines[1:])
    assert all(r["seconds per result"] > 0 for r in _rows(record, 8))


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--quick", "--out", str(tmp_path), "--studies", "2,9"])
    assert exc.value.code == 2 and "There is no study 9" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--quick", "--out", str(tmp_path), "--studies", "one"])
    assert "--studies takes numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["--quick", "--out", str(tmp_path), "--cats", str(tmp_path / "nowhere")])
    assert "does not exist" in capsys.readouterr().err
