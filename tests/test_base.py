"""The shared interface: device/dtype choice, seeds, option checks, Result saving."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import (Cancelled, LatentStudioError, Result, check_range, make_generator, pick_device,
                          pick_dtype, report)


def test_device_choice():
    assert pick_device("cpu").type == "cpu"
    assert pick_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(LatentStudioError, match="Unknown device"):
        pick_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(LatentStudioError, match="CUDA is not available"):
            pick_device("cuda")


def test_dtype_choice():
    cpu = torch.device("cpu")
    assert pick_dtype(cpu) == torch.float32
    assert pick_dtype(cpu, half_on_cuda=True) == torch.float32
    assert pick_dtype(torch.device("cuda"), half_on_cuda=True) == torch.float16
    assert pick_dtype(cpu, "bf16") == torch.bfloat16
    with pytest.raises(LatentStudioError):
        pick_dtype(cpu, "float8")


def test_seeded_generators_reproduce_and_are_private():
    a = torch.randn(4, generator=make_generator(3))
    torch.manual_seed(999)  # global state must not matter
    b = torch.randn(4, generator=make_generator(3))
    assert torch.equal(a, b)
    assert not torch.equal(a, torch.randn(4, generator=make_generator(4)))
    for bad in (-1, 1.5, "x", None, True):
        with pytest.raises(LatentStudioError, match="Seed"):
            make_generator(bad)


def test_check_range_names_the_limits():
    check_range("Steps", 5, 1, 10, integer=True)
    with pytest.raises(LatentStudioError, match="Steps must be between 1 and 10"):
        check_range("Steps", 0, 1, 10)
    with pytest.raises(LatentStudioError, match="whole number"):
        check_range("Steps", 2.5, 1, 10, integer=True)
    with pytest.raises(LatentStudioError):
        check_range("Strength", float("nan"), 0, 1)


def test_result_save_writes_images_latents_metrics(tmp_path):
    r = Result(images=[Image.new("RGB", (8, 8), "red")] * 2, latents={"latent": np.zeros((2, 3), np.float32)},
               metrics={"psnr": [np.float32(20.0), 21.0]}, timings={"total": 1.0}, options={"seed": 1})
    paths = r.save(tmp_path, prefix="x")
    assert [p.name for p in paths] == ["x_000.png", "x_001.png", "x_latents.npz", "x_metrics.json"]
    data = json.loads((tmp_path / "x_metrics.json").read_text())
    assert data["metrics"]["psnr"] == [20.0, 21.0] and data["options"]["seed"] == 1
    assert np.load(tmp_path / "x_latents.npz")["latent"].shape == (2, 3)


def test_progress_report_and_cancel():
    seen = []
    report(None, 1, 2)  # no callback: no-op
    report(lambda s, t, p: seen.append((s, t)), 1, 2)
    assert seen == [(1, 2)]

    def cancel(step, total, preview):
        raise Cancelled("stopped by user")
    with pytest.raises(LatentStudioError):
        report(cancel, 1, 2)
