"""bench/gpu/check.sh's CPU dry run: the very script a GPU session runs, with tiny random models for a few seconds,
so it cannot first break on borrowed GPU time; and the report's verdicts."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.gpu import check

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(any(shutil.which(t) is None for t in ("bash", "timeout")), reason="check.sh needs bash and timeout")
def test_check_sh_dry_run_writes_parity_and_speed(tmp_path):
    results = ROOT / "bench" / "results" / "gpu.json"
    before = results.read_bytes() if results.exists() else None
    env = {**os.environ, "OUT": str(tmp_path / "out"), "CHECK_DRY_RUN": "1", "CHECK_WORK": str(tmp_path / "work"),
           "PYTHON": os.environ.get("PYTHON", "python"), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.pop("CHECK_RESULTS", None)
    run = subprocess.run(["bash", "bench/gpu/check.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    data = json.loads((tmp_path / "out" / "gpu.json").read_text())
    assert data["dry_run"] and data["env"]["device"] == "cpu"
    checks = {(c["check"], c["dtype"]): c for c in data["parity"]["checks"]}
    assert set(checks) == {(n, d) for n in ("G", "D", "UNet", "SDEdit", "inversion") for d in ("float32", "bfloat16")}
    assert all(c["ok"] for c in checks.values())
    assert 0 < checks[("G", "bfloat16")]["rel_err"] < checks[("G", "bfloat16")]["tol"]  # bf16 really ran
    speed = data["speed"]
    for model in ("64px", "64px_random"):
        for dtype in ("float32", "bfloat16"):
            assert set(speed["inversion"][f"{model} {dtype}"]) == {"1", "2"}
            assert speed["G_img_per_s"][f"{model} {dtype}"] > 0
    assert speed["batch_vs_single"]["batch"] == 2 and speed["flops"]["tflop_per_step"] > 0
    assert speed["UNet_img_per_s"]["bfloat16"] > 0 and speed["sdedit_img_per_s"]["float32"]["img_per_s"] > 0
    assert data["load"] == {"skipped": "dry run"} and set(data["stages"]) == {"parity", "speed"}
    assert "inversion 64px_random, batch 2" in (tmp_path / "out" / "gpu.md").read_text()
    assert (tmp_path / "out" / "check.log").is_file()
    assert (results.read_bytes() if results.exists() else None) == before  # a dry run leaves the results alone


def test_report_names_failed_checks_and_the_peak(tmp_path, capsys):
    (tmp_path / "parity.json").write_text(json.dumps({"checks": [
        {"check": "G", "dtype": "float32", "rel_err": 1e-6, "tol": 1e-4, "ok": True},
        {"check": "SDEdit", "dtype": "bfloat16", "rel_err": 0.5, "tol": 0.08, "ok": False}], "ok": False}))
    data = check.report(tmp_path, tmp_path / "gpu.json", dry=False)
    assert "FAILED: SDEdit bfloat16" in capsys.readouterr().out and data["speed"] is None
    assert check.peak_tflops(check.torch.device("cpu"), 0.0) == (None, "no GPU")
    assert check.peak_tflops(check.torch.device("cpu"), 500.0) == (500.0, "given")
    assert check.rel_err(check.torch.ones(3) * 1.01, check.torch.ones(3)) == pytest.approx(0.01, rel=1e-4)
