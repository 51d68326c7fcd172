"""Batch jobs (`engines.batch`): a folder through invert / scribble / sdedit, sharded over 2 CPU processes (gloo,
``torchrun``), equals the one-process run; each input is written once; a rerun skips finished inputs; one merged
metrics.json and manifest.json."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engines import batch
from engines.base import LatentStudioError
from engines.cli.main import main
from engines.stylegan.checkpoints import save_gan
from conftest import guide_image

ROOT = Path(__file__).resolve().parents[1]


def _photos(folder: Path, engine, n: int) -> list[Path]:
    folder.mkdir()
    paths = []
    for i, img in enumerate(engine.sample(n, seed=1)):
        img.save(folder / f"p{i}.png")
        paths.append(folder / f"p{i}.png")
    return paths


def _pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_expand_inputs_folders_lists_and_clashes(tmp_path):
    (tmp_path / "d").mkdir()
    for name in ("b.png", "a.jpg", "notes.md"):
        (tmp_path / "d" / name).write_bytes(b"x")
    (tmp_path / "c.png").write_bytes(b"x")
    (tmp_path / "list.txt").write_text("# photos\nc.png\n\n d/a.jpg  # again\n")
    files, expanded = batch.expand_inputs([tmp_path / "d"])
    assert expanded and [p.name for p in files] == ["a.jpg", "b.png"]  # sorted, images only
    files, expanded = batch.expand_inputs([tmp_path / "list.txt"])
    assert expanded and files == [tmp_path / "c.png", tmp_path / "d" / "a.jpg"]
    assert batch.expand_inputs([tmp_path / "c.png"]) == ([tmp_path / "c.png"], False)
    with pytest.raises(LatentStudioError, match="named 'a'"):
        batch.expand_inputs([tmp_path / "d", tmp_path / "list.txt"])
    with pytest.raises(LatentStudioError, match="not found"):
        batch.expand_inputs([tmp_path / "nope.png"])


def test_invert_folder_on_two_processes_equals_one_and_reruns_skip(tmp_path, tiny_g, tiny_d, tiny_engine):
    save_gan(tmp_path / "m", tiny_g, tiny_d, fp16=False)
    photos = _photos(tmp_path / "photos", tiny_engine, 3)
    flags = ["--model", str(tmp_path / "m"), "--steps", "4", "--batch", "2", "--seed", "5", "--device", "cpu"]
    assert main(["invert", str(tmp_path / "photos"), *flags, "--out", str(tmp_path / "one")]) == 0
    # the same job on 2 CPU processes (torchrun, gloo): chunks [p0, p1] and [p2], one per process
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          "-m", "engines", "invert", str(tmp_path / "photos"), *flags, "--out", str(tmp_path / "two")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    two, one = tmp_path / "two", tmp_path / "one"
    manifest = json.loads((two / "manifest.json").read_text())
    assert manifest["processes"] == 2 and [i["process"] for i in manifest["items"]] == [0, 0, 1]
    assert sorted(p.name for p in (two / "records").iterdir()) == ["p0.png.json", "p1.png.json", "p2.png.json"]
    m1, m2 = (json.loads((d / "metrics.json").read_text()) for d in (one, two))
    assert list(m2["images"]) == ["p0.png", "p1.png", "p2.png"]  # one merged metrics.json, input order
    for p in photos:
        a, b = m1["images"][p.name], m2["images"][p.name]
        assert a["psnr"] == pytest.approx(b["psnr"], abs=1e-3) and a["loss"] == pytest.approx(b["loss"], rel=1e-4)
        np.testing.assert_allclose(np.load(one / f"{p.stem}.npz")["latent"], np.load(two / f"{p.stem}.npz")["latent"],
                                   atol=1e-4)
        assert np.abs(_pixels(one / f"{p.stem}_recon.png") - _pixels(two / f"{p.stem}_recon.png")).max() <= 1
    # a rerun skips finished inputs: lose p1 (its record), rerun, only p1 is written again, p0 untouched
    (two / "records" / "p1.png.json").unlink()
    (two / "p1_recon.png").unlink()
    before = (two / "p0_recon.png").stat().st_mtime_ns, (two / "records" / "p2.png.json").read_text()
    assert main(["invert", str(tmp_path / "photos"), *flags, "--out", str(two)]) == 0
    manifest = json.loads((two / "manifest.json").read_text())
    assert manifest["skipped_this_run"] == ["p0.png", "p2.png"] and manifest["processes"] == 1
    assert ((two / "p0_recon.png").stat().st_mtime_ns, (two / "records" / "p2.png.json").read_text()) == before
    assert np.abs(_pixels(one / "p1_recon.png") - _pixels(two / "p1_recon.png")).max() <= 1  # same chunk, same seed
    assert set(json.loads((two / "metrics.json").read_text())["images"]) == {"p0.png", "p1.png", "p2.png"}
    # other options into the same folder: refused, not mixed
    assert main(["invert", str(tmp_path / "photos"), *flags[:-4], "--seed", "6", "--device", "cpu",
                 "--out", str(two)]) == 2


def test_sdedit_folder_equals_single_runs_and_resumes(tmp_path, tiny_pixel_dir, capsys):
    guides = tmp_path / "guides"
    guides.mkdir()
    for i in range(2):
        guide_image(seed=i, size=(24, 24)).save(guides / f"g{i}.png")
    flags = ["--model", str(tiny_pixel_dir), "--t0", "500", "--scheduler", "ddim", "--steps", "6", "--n", "2",
             "--seed", "3", "--frames", "2", "--device", "cpu"]
    assert main(["sdedit", str(guides), *flags, "--out", str(tmp_path / "all")]) == 0
    assert main(["sdedit", str(guides / "g1.png"), *flags, "--out", str(tmp_path / "g1")]) == 0
    for i in range(2):  # the batch's g1 is the single run's g1, pixel for pixel
        assert (tmp_path / "all" / f"g1_sdedit_0{i}.png").read_bytes() == (tmp_path / "g1" / f"g1_sdedit_0{i}.png").read_bytes()
    data = json.loads((tmp_path / "all" / "metrics.json").read_text())
    assert list(data["guides"]) == ["g0.png", "g1.png"] and len(data["guides"]["g0.png"]["metrics"]["l2"]) == 2
    assert "g1_denoising.gif" in data["guides"]["g1.png"]["files"] and data["options"]["seeds"] == [3, 4]
    single = json.loads((tmp_path / "g1" / "metrics.json").read_text())  # one guide: the metrics.json of old
    assert set(single) == {"metrics", "timings", "options", "model", "files"}
    assert not (tmp_path / "g1" / "records").exists()
    capsys.readouterr()
    assert main(["sdedit", str(guides), *flags, "--out", str(tmp_path / "all")]) == 0
    assert "2 of 2 inputs already done" in capsys.readouterr().out
    assert json.loads((tmp_path / "all" / "manifest.json").read_text())["skipped_this_run"] == ["g0.png", "g1.png"]


def test_scribble_list_file_is_a_batch(tmp_path, tiny_g, tiny_d):
    save_gan(tmp_path / "m", tiny_g, tiny_d, fp16=False)
    for i in range(2):
        rgba = np.zeros((32, 32, 4), np.uint8)
        rgba[5 + 8 * i:15 + 8 * i, 5:25] = (30, 200, 30, 255)
        Image.fromarray(rgba, "RGBA").save(tmp_path / f"s{i}.png")
    (tmp_path / "sketches.txt").write_text("s0.png\ns1.png\n")
    assert main(["scribble", str(tmp_path / "sketches.txt"), "--model", str(tmp_path / "m"), "--steps", "3",
                 "--device", "cpu", "--out", str(tmp_path / "o")]) == 0
    data = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert list(data["sketches"]) == ["s0.png", "s1.png"] and data["sketches"]["s1.png"]["masked_l2"] >= 0
    assert (tmp_path / "o" / "s1_result.png").exists() and (tmp_path / "o" / "manifest.json").exists()
