"""Scribbles matched as a colour layout (issue 26) and the cat-face measure beside faithfulness."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines.evaluation import cat_faces
from engines.evaluation.faithfulness import layout_l2, masked_pool, reconstruction
from engines.stylegan.projector import ProjectionConfig, comparison_level, level_at, pixel_losses_at


@pytest.fixture
def target(tiny_engine):
    return tiny_engine.sample(1, seed=5)[0]


def _reference_pooled_l2(x, y, m, r):
    """A plain re-statement: per r×r cell, the mean colour of the masked pixels; cells weighted by their masked share."""
    n, c, h, _ = x.shape
    k = h // r
    total, weight = torch.zeros(n), torch.zeros(n)
    for i in range(r):
        for j in range(r):
            cm = m[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k].expand(n, 1, k, k)
            share = cm.flatten(1).mean(1)
            if float(share.max()) == 0:
                continue
            cell = lambda t: (t[:, :, i * k:(i + 1) * k, j * k:(j + 1) * k] * cm).sum([2, 3]) / cm.sum([2, 3]).clamp_min(1e-8)
            total += share * (cell(x) - cell(y)).square().sum(1)
            weight += share * c
    return total / weight


def test_pooled_loss_matches_a_cell_by_cell_restatement():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    m = (torch.rand(1, 1, 16, 16, generator=g) > 0.6).float()
    _, l2 = pixel_losses_at(x, y, m, 2.0)  # 4×4 cells
    assert torch.allclose(l2, _reference_pooled_l2(x, y, m, 4), atol=1e-6)
    assert torch.allclose(torch.tensor(layout_l2(x * 2 - 1, y * 2 - 1, m, 4)), _reference_pooled_l2(x, y, m, 4), atol=1e-6)


def test_layout_ignores_lines_the_full_comparison_sees():
    flat = torch.full((1, 3, 64, 64), 0.5)
    striped = flat.clone()
    striped[:, :, :, ::2] = 0.0   # thin lines: same 4×4 means as a flat fill of their average
    striped[:, :, :, 1::2] = 1.0
    assert layout_l2(flat, striped) == pytest.approx([0.0], abs=1e-9)
    assert reconstruction(flat, striped, torch.ones(1, 1, 64, 64))["masked_l2"][0] > 0.05
    _, full = pixel_losses_at(flat, striped, None, 6.0)
    _, coarse = pixel_losses_at(flat, striped, None, 4.0)
    assert float(full) > 0.1 and float(coarse) == pytest.approx(0.0, abs=1e-9)


def test_follow_lines_sets_the_comparison_resolution_and_its_far_end_is_every_pixel():
    assert comparison_level(0.0, 64) == 4 and comparison_level(0.5, 64) == 5 and comparison_level(1.0, 64) == 6
    assert comparison_level(0.0, 1024) == 4 and comparison_level(1.0, 1024) == 10
    g = torch.Generator().manual_seed(1)
    x, y, m = torch.randn(1, 3, 64, 64, generator=g), torch.randn(1, 3, 64, 64, generator=g), torch.ones(1, 1, 64, 64)
    l1, l2 = pixel_losses_at(x, y, m, comparison_level(1.0, 64))
    assert torch.allclose(l2, (x - y).square().mean()) and torch.allclose(l1, (x - y).abs().mean())
    # between two levels the loss blends them
    mid = pixel_losses_at(x, y, m, 4.5)[1]
    lo, hi = pixel_losses_at(x, y, m, 4.0)[1], pixel_losses_at(x, y, m, 5.0)[1]
    assert torch.allclose(mid, (lo + hi) / 2)
    # coarse to fine: from 8×8 to the final level, then the final level
    assert level_at(0, 100, 6.0, 0.5) == 3.0 and level_at(25, 100, 6.0, 0.5) == pytest.approx(3 + 3 * 25 / 50, abs=0.05)
    assert level_at(60, 100, 6.0, 0.5) == 6.0 and level_at(0, 100, 6.0, 0.0) == 6.0


def test_follow_lines_is_checked_with_a_message_naming_it():
    from engines.base import LatentStudioError
    with pytest.raises(LatentStudioError, match="Follow the lines"):
        ProjectionConfig(follow_lines=1.5).check()


def test_masked_pool_gives_empty_cells_no_weight():
    x = torch.ones(1, 3, 8, 8)
    m = torch.zeros(1, 1, 8, 8)
    m[:, :, :4, :4] = 1
    pooled, w = masked_pool(x, m, 2)
    assert torch.allclose(w, torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]]))
    assert float(pooled[0, 0, 0, 0]) == pytest.approx(1.0)


def test_layout_scribble_improves_its_loss_and_reports_layout_and_face(tiny_engine):
    from PIL import Image
    target = Image.new("RGB", (32, 32), (232, 145, 74))  # an orange fill the tiny model starts far from
    mask = np.zeros((32, 32), dtype=np.float32)
    mask[4:28, 4:28] = 1.0
    res = tiny_engine.scribble(target, mask, steps=30, restarts=1, seed=0)
    curve = res.metrics["loss_curve"]
    assert curve[-1] < curve[0]
    assert res.options["follow_lines"] == 0.0
    assert 0 <= res.metrics["layout_l2"][0] <= res.metrics["masked_l2"][0] + 1e-6
    assert isinstance(res.metrics["holds_face"][0], bool) and res.metrics["cat_face"][0] >= 0
    again = tiny_engine.scribble(target, mask, steps=30, restarts=1, seed=0)  # a seed reproduces
    assert np.array_equal(np.asarray(res.images[0]), np.asarray(again.images[0]))


def test_the_best_latent_is_taken_from_the_final_comparison_only(tiny_engine, target):
    """Coarse levels' losses are smaller and not comparable: a coarse-to-fine run's result must be a final-level one."""
    mask = np.ones((32, 32), dtype=np.float32)
    res = tiny_engine.scribble(target, mask, steps=20, restarts=1, follow_lines=1.0, coarse_to_fine=0.5,
                               optimize_noise=False)
    assert res.metrics["loss"][0] >= min(res.metrics["loss_curve"][10:]) - 1e-6


def _photo_like(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return F.interpolate(torch.rand(1, 3, 8, 8, generator=g) * 2 - 1, size=64, mode="bilinear", align_corners=False)


def test_no_cat_face_in_flat_patches_noise_or_blobs():
    flat = torch.zeros(1, 3, 64, 64)
    noise = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    images = torch.cat([flat, noise, _photo_like(1)])
    assert not cat_faces.holds_face(images).any()
    with pytest.raises(ValueError):
        cat_faces.confidence(torch.zeros(1, 1, 64, 64))


def test_cat_faces_found_in_the_default_models_samples():
    """Calibration check on what ships: most of our StyleGAN2's ψ 0.7 samples hold a detectable cat face."""
    from engines.stylegan.engine import GanEngine
    from engines import imaging
    engine = GanEngine("default", device="cpu")
    images = imaging.to_tensor(engine.sample(16, seed=0, truncation=0.7))
    assert float(cat_faces.holds_face(images).float().mean()) >= 0.75
