"""The GAN engine behind the shared interface: describe, sample, synthesize, latents."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.base import Engine, LatentStudioError
from engines.stylegan.engine import GanEngine


def test_default_engine_describes_itself_honestly():
    engine = GanEngine("default", device="cpu")
    assert isinstance(engine, Engine)
    d = engine.describe()
    assert d.resolution == 64 and d.device == "cpu" and d.spaces == ("z", "w", "w+")
    assert d.parameters > 0 and d.source == "default"


def test_sample_is_reproducible_by_seed(tiny_engine):
    a = tiny_engine.sample(3, seed=5)
    b = tiny_engine.sample(3, seed=5)
    c = tiny_engine.sample(3, seed=6)
    assert len(a) == 3 and a[0].size == (32, 32) and a[0].mode == "RGB"
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(c[0]))


def test_sample_batches_give_the_same_images(tiny_engine):
    a = tiny_engine.sample(5, seed=1, batch_size=2)
    b = tiny_engine.sample(5, seed=1, batch_size=16)
    assert all(np.abs(np.asarray(x, int) - np.asarray(y, int)).max() <= 1 for x, y in zip(a, b))


def test_sample_rejects_bad_options(tiny_engine):
    with pytest.raises(LatentStudioError, match="Number of samples"):
        tiny_engine.sample(0, seed=1)
    with pytest.raises(LatentStudioError, match="Truncation"):
        tiny_engine.sample(1, seed=1, truncation=3.0)


def test_latent_record_round_trip_and_checks(tmp_path, tiny_engine, tiny_dcgan_engine):
    from engines.stylegan.latents import save_latents
    w = tiny_engine.G.mapping(torch.randn(2, 32))
    path = save_latents(tmp_path / "l.npz", tiny_engine.latent_record(w, "w+"))
    latent, space = tiny_engine.load_latent(path)
    assert space == "w+" and torch.allclose(latent, w)
    assert len(tiny_engine.synthesize(latent, space)) == 2
    with pytest.raises(LatentStudioError, match="another model"):
        tiny_dcgan_engine.load_latent(path)
    bad = tiny_engine.latent_record(w[:, :3], "w+")
    with pytest.raises(LatentStudioError, match="shape"):
        tiny_engine.load_latent(bad)
    nan = tiny_engine.latent_record(w * float("nan"), "w+")
    with pytest.raises(LatentStudioError, match="NaN"):
        tiny_engine.load_latent(nan)
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(LatentStudioError, match="not a latent"):
        tiny_engine.load_latent(tmp_path / "x.npz")
    with pytest.raises(LatentStudioError, match="no 'w'"):
        tiny_dcgan_engine.synthesize(np.zeros((1, 16)), "w")
