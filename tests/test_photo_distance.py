"""Distance to real photos in discriminator features (`evaluation.photo_distance`, issue 26)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.base import LatentStudioError
from engines.evaluation import photo_distance as pd
from engines.evaluation.photo_distance import PhotoDistance
from engines.stylegan.engine import GanEngine

from conftest import make_engine


def _features(x):
    """A stand-in network: two feature maps, the second-to-last being the colour at 4×4."""
    return [x, torch.nn.functional.avg_pool2d(x, x.shape[-1] // 4), x.mean(dim=(2, 3), keepdim=True)]


def test_unit_is_the_photos_own_spacing_and_knn_matches_a_restatement():
    g = torch.Generator().manual_seed(0)
    photos = torch.rand(40, 3, 16, 16, generator=g) * 2 - 1
    model = PhotoDistance.fit(photos, _features, k=3)
    ref = torch.stack([pd.vectors(_features(p[None])[pd.LAYER])[0] for p in photos])
    # leave-one-out: each photo's mean squared distance to its 3 nearest others; the median is the unit
    loo = []
    for i in range(len(ref)):
        d = sorted(float((ref[i] - ref[j]).square().sum()) for j in range(len(ref)) if j != i)
        loo.append(np.mean(d[:3]))
    assert model.scale == pytest.approx(float(np.median(loo)), rel=1e-4)
    query = torch.rand(2, 3, 16, 16, generator=g) * 2 - 1
    qv = pd.vectors(_features(query)[pd.LAYER])
    expect = [np.mean(sorted(float((q - r).square().sum()) for r in ref)[:3]) / model.scale for q in qv]
    assert model.distance(query).tolist() == pytest.approx(expect, rel=1e-4)


def test_saved_reference_round_trips_resizes_and_refuses_another_method(tmp_path, monkeypatch):
    photos = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    model = PhotoDistance.fit(photos, _features, fingerprint="abc", k=2)
    path = model.save(tmp_path / pd.FILE_NAME)
    back = PhotoDistance.load(path, _features)
    assert back.fingerprint == "abc" and back.k == 2 and back.resolution == 16
    big = torch.nn.functional.interpolate(photos[:3], size=64, mode="nearest")  # a bigger result is measured at 16 px
    assert back.distance(big).tolist() == pytest.approx(back.distance(photos[:3]).tolist(), rel=2e-2, abs=1e-3)
    monkeypatch.setattr(pd, "METHOD", "layer -1, pool 2")
    with pytest.raises(LatentStudioError, match="bench.photo_distance"):
        PhotoDistance.load(path, _features)


def test_default_gan_puts_its_samples_near_photos_and_drawings_far():
    from pathlib import Path

    from engines import imaging
    engine = GanEngine("default", device="cpu")
    yardstick = engine.photo_distance()
    assert yardstick is not None and yardstick.fingerprint == engine.fingerprint
    samples = engine.G(torch.randn(16, engine.G.z_dim, generator=torch.Generator().manual_seed(0)), truncation_psi=0.7)
    drawings = imaging.to_tensor([imaging.center_crop_resize(imaging.load_image(p), 64)
                                  for p in sorted((Path(__file__).parents[1] / "assets/examples/drawings").glob("*.png"))])
    saturated = torch.ones(3, 3, 64, 64) * torch.eye(3)[:, :, None, None]  # pure red, green, blue
    near = yardstick.distance(samples)
    assert float(near.median()) < 1.2
    assert float(yardstick.distance(drawings).min()) > 1.5 and float(yardstick.distance(saturated).min()) > 2.0


def test_models_without_a_reference_for_their_weights_report_none(tiny_engine, tmp_path):
    assert tiny_engine.photo_distance() is None  # no folder, no reference
    tiny_engine.bundle.folder = tmp_path
    photos = torch.rand(6, 3, 32, 32) * 2 - 1
    PhotoDistance.fit(photos, tiny_engine.bundle.D.features, fingerprint="not-these-weights").save(tmp_path / pd.FILE_NAME)
    fresh = make_engine(tiny_engine.G, tiny_engine.bundle.D)
    fresh.bundle.folder = tmp_path
    assert fresh.photo_distance() is None  # made for other weights: no figure rather than a wrong one
    PhotoDistance.fit(photos, tiny_engine.bundle.D.features, fingerprint=fresh.fingerprint).save(tmp_path / pd.FILE_NAME)
    again = make_engine(tiny_engine.G, tiny_engine.bundle.D)
    again.bundle.folder = tmp_path
    assert again.photo_distance() is not None
    result = again.scribble(np.full((32, 32, 3), 255, np.uint8) * 0 + 200, np.ones((32, 32)), steps=2, restarts=1)
    assert len(result.metrics["photo_distance"]) == 1
