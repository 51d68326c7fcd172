"""The realism score: a flat colour patch, noise or a bare sketch cannot win it; real photos score about 0.5."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from engines.base import LatentStudioError
from engines.evaluation.realism import PatchRealism
from engines.evaluation.swd import blurred

SHARED_CATS = Path(__file__).resolve().parents[2] / "shared" / "data" / "cats"


@pytest.fixture(scope="module")
def realism() -> PatchRealism:
    model = PatchRealism.default()
    assert model is not None, "weights/realism-cats64.npz is missing"
    return model


def _texture(n: int, seed: int, res: int = 64) -> torch.Tensor:
    """Smooth random fields with fine detail: a stand-in for photos when ../shared is not there."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.nn.functional.interpolate(torch.randn(n, 3, 8, 8, generator=gen), size=res, mode="bilinear")
    return (0.5 * coarse + 0.15 * torch.randn(n, 3, res, res, generator=gen)).clamp(-1, 1)


def test_flat_patches_noise_and_blank_canvases_score_near_zero(realism):
    gen = torch.Generator().manual_seed(0)
    flat = torch.ones(12, 3, 64, 64) * (torch.rand(12, 3, 1, 1, generator=gen) * 2 - 1)
    assert realism.score(flat).max() < 0.05
    assert realism.score(torch.rand(4, 3, 64, 64, generator=gen) * 2 - 1).max() < 0.05
    assert realism.score(torch.ones(1, 3, 64, 64)).item() < 0.05  # a white canvas


@pytest.mark.skipif(not SHARED_CATS.is_dir(), reason="../shared/data/cats is not beside the repository")
def test_held_out_photos_score_about_half_and_blurring_lowers_it(realism):
    from engines import data as datasets
    photos = datasets.to_float(datasets.load_split(SHARED_CATS, 64, 0.05, "val"))[:120]
    real = realism.score(photos)
    assert 0.35 < real.mean() < 0.65
    assert realism.score(blurred(photos, 2)).mean() < real.mean() - 0.15


def test_other_resolutions_are_resized_and_scores_are_in_range(realism):
    x = _texture(3, 1, res=128)
    s = realism.score(x)
    assert s.shape == (3,) and ((0 <= s) & (s <= 1)).all()
    with pytest.raises(LatentStudioError, match="RGB images"):
        realism.score(torch.zeros(2, 1, 64, 64))


def test_fit_save_load_round_trip_and_calibration(tmp_path):
    model = PatchRealism.fit(_texture(64, 0), _texture(40, 1), directions=16, quantiles=16, max_patches=20_000)
    path = model.save(tmp_path / "r.npz")
    back = PatchRealism.load(path)
    x = _texture(5, 2)
    assert torch.allclose(model.distance(x), back.distance(x), atol=1e-5)
    held = back.score(_texture(40, 1))                      # the calibration set itself spreads over [0, 1]
    assert 0.4 < held.mean() < 0.6 and held.min() < 0.1 and held.max() > 0.9
    with pytest.raises(LatentStudioError, match="not a realism statistics file"):
        PatchRealism.load(tmp_path / "missing.npz")


def test_every_result_carries_realism_and_the_comparison_reports_it(tiny_engine, tmp_path):
    from PIL import Image

    from engines import compare
    sketch = Image.new("RGB", (32, 32), "white")
    sketch.paste((200, 90, 30), (4, 4, 28, 28))
    res = tiny_engine.scribble(sketch, steps=2, restarts=2)
    assert 0 <= res.metrics["realism"][0] <= 1 and res.options["restart_picked_by"].startswith("cat-face confidence + patch realism")
    inv = tiny_engine.invert([sketch], steps=2, restarts=2)
    assert inv.options["restart_picked_by"] == "loss"               # photos: the closest reconstruction wins
    rgb, mask = compare.square_sketch(sketch)
    run = compare.run_engine("GAN", tiny_engine, rgb, mask, steps=2)
    assert 0 <= run.realism <= 1 and "realism" in compare.table([run])


def test_scribbles_differ_by_seed_under_the_default_restarts(tiny_g):
    from PIL import Image

    from conftest import make_engine, randomize
    from engines.stylegan.networks import StyleGAN2Generator
    # randomised weights at mapping lr multiplier 0.01 would make w ignore z (every start the same)
    tiny_engine = make_engine(randomize(StyleGAN2Generator(**{**tiny_g.config.as_dict(), "mapping_lr_multiplier": 1.0}), 3))
    sketch = Image.new("RGB", (32, 32), "white")
    sketch.paste((40, 160, 60), (6, 6, 26, 20))
    a, b = (np.asarray(tiny_engine.scribble(sketch, steps=3, seed=s).images[0], dtype=np.float32) for s in (0, 1))
    assert np.abs(a - b).mean() > 0.5
