"""bench/diffusion_quality.py runs end to end on a tiny model and small image folders, and its numbers make sense."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from bench import diffusion_quality
from engines.diffusion.tiny import tiny_pixel_pipeline


def _folder(root, name, n, colour, size=16):
    folder = root / name
    folder.mkdir(parents=True)
    rng = np.random.default_rng(len(name))
    for i in range(n):
        arr = np.clip(np.array(colour) + rng.normal(0, 30, (size, size, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(arr).save(folder / f"{i}.png")
    return folder


@pytest.fixture
def data(tmp_path):
    cats = _folder(tmp_path, "cats", 120, (180, 120, 60))
    grumpy = _folder(tmp_path, "grumpy", 40, (200, 200, 210))
    sketches = tmp_path / "sketches"
    (sketches / "rgba_64").mkdir(parents=True)
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[16:48, 16:48] = (240, 200, 40, 255)
    Image.fromarray(rgba).save(sketches / "rgba_64" / "square.png")
    model = tmp_path / "model"
    tiny_pixel_pipeline().save_pretrained(model)
    return dict(cats=cats, grumpy=grumpy, sketches=sketches, model=model, out=tmp_path / "out")


def test_bench_writes_tables_and_grids(data, capsys):
    record = diffusion_quality.main([
        "--model", str(data["model"]), "--gan", "", "--cats", str(data["cats"]), "--grumpy", str(data["grumpy"]),
        "--sketches", str(data["sketches"]), "--samples", "8", "--ddpm-samples", "4", "--samplers", "ddpm:20,ddim:5",
        "--guidance-samples", "4", "--sdedit-seeds", "1", "--patches", "256", "--device", "cpu",
        "--out", str(data["out"])])
    printed = capsys.readouterr().out
    assert "Realism" in printed and "Guidance" in printed and "SDEdit" in printed
    floors = [r for r in record["realism"] if "floor" in r["set"]]
    assert [r["n"] for r in floors] == [4, 8]                     # one floor per sample count
    runs = [r for r in record["realism"] if "floor" not in r["set"]]
    assert [r["set"].split(",")[0] for r in runs] == ["DDPM 20 steps", "DDIM 5 steps"]
    assert all(r["× floor"] > 0 and r["avg"] >= 0 for r in runs)
    assert [(r["class"], r["guidance"]) for r in record["guidance"]] == [
        ("grumpy cat", 1.0), ("grumpy cat", 3.0), ("grumpy cat", 7.0), ("cat", 1.0), ("cat", 3.0), ("cat", 7.0)]
    strengths = [r["strength"] for r in record["sdedit"]["rows"]]
    assert strengths == list(diffusion_quality.STRENGTHS)
    assert all(0 <= r["masked L2 to strokes"] <= 1 for r in record["sdedit"]["rows"])
    saved = json.loads((data["out"] / "diffusion_quality.json").read_text())
    assert saved["sdedit"]["sketches"] == ["square"]
    for suffix in ("samples", "guidance", "sdedit"):
        assert (data["out"] / f"diffusion_quality_{suffix}.png").is_file()


def test_sketch_masks_follow_the_strokes(data):
    (name, sketch, mask), = diffusion_quality.load_sketches(data["sketches"], 32)
    assert name == "square" and sketch.size == (32, 32) and mask.shape == (32, 32)
    assert mask[16, 16] == 1 and mask[2, 2] == 0 and 0.2 < mask.mean() < 0.3


def test_feature_distance_without_a_gan_is_pixel_rms():
    import torch
    dist = diffusion_quality.FeatureDistance(None)
    a = torch.zeros(2, 3, 8, 8)
    b = torch.ones(3, 3, 8, 8)
    assert dist.matrix(a, b).shape == (2, 3) and torch.allclose(dist.matrix(a, b), torch.ones(2, 3))
    assert diffusion_quality.mean_pairwise(dist.matrix(b, b)) == 0
