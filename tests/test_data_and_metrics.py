"""Training data split, DiffAugment and the offline quality measures (SWD, nearest neighbours)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engines import data
from engines.base import LatentStudioError
from engines.evaluation import laplacian_pyramid, nearest_neighbours, sliced_wasserstein
from engines.evaluation.swd import blurred
from engines.stylegan.augment import diff_augment, parse_policy


def write_images(folder, n, size=(20, 20)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(folder / f"img_{i:04d}.png")


def test_split_is_stable_disjoint_and_about_the_fraction(tmp_path):
    write_images(tmp_path / "a", 400)
    files = data.list_images(tmp_path / "a")
    train, val = data.split(files, 0.1)
    assert set(train).isdisjoint(val) and len(train) + len(val) == 400
    assert 20 <= len(val) <= 60
    write_images(tmp_path / "a", 450)  # adding files never moves old ones across the split
    _, val2 = data.split(data.list_images(tmp_path / "a"), 0.1)
    assert {p.name for p in val} <= {p.name for p in val2}


def test_load_images_crops_and_resizes(tmp_path):
    write_images(tmp_path / "b", 3, size=(30, 20))
    x = data.load_split(tmp_path / "b", 16, part="all")
    assert x.shape == (3, 3, 16, 16) and x.dtype == torch.uint8
    f = data.to_float(x)
    assert f.min() >= -1 and f.max() <= 1


def test_data_errors_are_clear(tmp_path):
    with pytest.raises(LatentStudioError, match="does not exist"):
        data.list_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LatentStudioError, match="No images"):
        data.list_images(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(LatentStudioError, match="Could not read"):
        data.load_split(tmp_path / "bad", 16, part="all")


def test_diff_augment_keeps_shape_and_gradients():
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    y = diff_augment(x, parse_policy("color,translation,cutout"))
    assert y.shape == x.shape
    y.sum().backward()
    assert x.grad.abs().sum() > 0
    assert parse_policy("none") == [] and parse_policy("") == []
    ones = diff_augment(torch.ones(4, 3, 16, 16), ["cutout"])
    assert ((ones == 0).float().mean(dim=(1, 2, 3)) > 0).all()  # every image loses a square


def test_swd_ranks_sets_sensibly():
    gen = torch.Generator().manual_seed(0)

    def smooth(n):  # smooth random fields: low-resolution noise scaled up
        small = torch.rand(n, 3, 8, 8, generator=gen) * 2 - 1
        return torch.nn.functional.interpolate(small, size=32, mode="bilinear", align_corners=False)
    base, same = smooth(200), smooth(200)
    noise = torch.rand(200, 3, 32, 32, generator=gen) * 2 - 1
    kw = dict(patches=2048, directions=64, repeats=2)
    floor = sliced_wasserstein(base, same, **kw)
    far = sliced_wasserstein(base, noise, **kw)
    assert set(floor) == {"32", "16", "avg"}
    assert far["32"] > 2 * floor["32"] and far["avg"] > 2 * floor["avg"]
    assert sliced_wasserstein(base, same, **kw) == floor  # seeded
    assert sliced_wasserstein(base, blurred(same), **kw)["32"] > floor["32"]


def test_laplacian_levels_shapes():
    levels = laplacian_pyramid(torch.rand(2, 3, 64, 64))
    assert [lv.shape[-1] for lv in levels] == [64, 32, 16]


def test_nearest_neighbour_finds_the_copy():
    pool = torch.rand(50, 3, 8, 8) * 2 - 1
    idx, dist = nearest_neighbours(pool[[7, 42]].clone(), pool, chunk=16)
    assert idx.tolist() == [7, 42] and dist.max() < 1e-5
