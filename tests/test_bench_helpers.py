"""The small pieces of maths and parsing the benchmarks' verdicts rest on."""
from __future__ import annotations

import pytest

from bench.encoder import parse_recipe, recipe_name
from bench.gan_vs_sdedit import sdedit_at_faithfulness

SWEEP = [{"masked_l2": 0.02, "realism": 0.2}, {"masked_l2": 0.01, "realism": 0.1}, {"masked_l2": 0.04, "realism": 0.3}]


def test_sdedit_realism_is_read_off_its_sweep_at_the_gans_faithfulness():
    assert sdedit_at_faithfulness(SWEEP, 0.015) == pytest.approx(0.15)
    assert sdedit_at_faithfulness(SWEEP, 0.03) == pytest.approx(0.25)
    # the GAN more faithful than SDEdit's weakest strength: compare with that strength
    assert sdedit_at_faithfulness(SWEEP, 0.001) == pytest.approx(0.1)
    # less faithful than every swept strength: no equal-faithfulness comparison exists
    assert sdedit_at_faithfulness(SWEEP, 0.05) is None
    assert sdedit_at_faithfulness([], 0.01) is None


def test_encoder_bench_recipes_parse_and_name():
    assert parse_recipe("encoder+100+noise") == ("encoder", 100, True, 0)
    assert parse_recipe("encoder+50+noise+pti100") == ("encoder", 50, True, 100)
    assert parse_recipe("mean+300") == ("mean", 300, False, 0)
    assert recipe_name("encoder", 50, True, 100) == "encoder + 50 + noise, PTI 100"
    for bad in ("encoder+10+fast", "random+10"):
        with pytest.raises(SystemExit, match="bad recipe"):
            parse_recipe(bad)


def test_a_sketch_where_sdedit_scores_zero_realism_still_counts():
    from bench.gan_vs_sdedit import meets_at_equal_faithfulness
    flat = [{"masked_l2": 0.01, "realism": 0.0}, {"masked_l2": 0.03, "realism": 0.0}]
    assert meets_at_equal_faithfulness({"masked_l2": 0.02, "realism": 0.01}, flat)
    assert not meets_at_equal_faithfulness({"masked_l2": 0.05, "realism": 0.9}, flat)  # less faithful than all


def test_black_and_broken_frames_are_counted_against_real_photos(tmp_path):
    import torch

    from bench.gan_quality import frame_flags, frames, luminance
    from engines.evaluation.realism import PatchRealism

    gen = torch.Generator().manual_seed(0)
    # "validation photos": mid-grey images with a little texture, luminance ≈ 0.5
    val = (torch.rand(200, 3, 64, 64, generator=gen) * 0.4 - 0.2)
    assert luminance(-torch.ones(1, 3, 8, 8)).item() == pytest.approx(0.0)
    assert luminance(torch.ones(1, 3, 8, 8)).item() == pytest.approx(1.0)
    black = -torch.ones(1, 3, 64, 64) + 0.02 * torch.rand(1, 3, 64, 64, generator=gen)
    samples = torch.cat([black, val[:3]])
    dark, broken = frame_flags(samples, val, None)
    assert dark.tolist() == [True, False, False, False] and broken is None
    # with realism statistics: flat colour is farther from real photos than any held-out photo
    realism = PatchRealism.fit(val[:100], val[100:])
    flat = torch.full((1, 3, 64, 64), 0.3)
    _, broken = frame_flags(torch.cat([flat, val[100:102]]), val, realism)
    assert broken.tolist() == [True, False, False]   # held-out photos themselves are never broken
    # the table row: counts in the grid and shares of all samples, next to the training photos' dark share
    row = frames(torch.cat([black, flat, val[100:104]]), val, realism, 1.5, tmp_path / "grid.png", grid=4)
    assert (row["dark in 4"], row["broken in 4"], row["dark_at"], row["broken_at"]) == (1, 2, [0], [0, 1])
    assert row["dark of 6 %"] == pytest.approx(100 / 6, abs=0.01) and row["train photos dark %"] == 1.5
    assert (tmp_path / "grid.png").is_file()


def test_sdedit_default_strength_is_the_lowest_meeting_both_goals():
    from bench.gan_vs_sdedit import pick_strength
    mean = {"sdedit_0.5": {"holds_cat_face": 0.6, "layout_l2": 0.005},
            "sdedit_0.7": {"holds_cat_face": 0.85, "layout_l2": 0.012},
            "sdedit_0.9": {"holds_cat_face": 0.95, "layout_l2": 0.03}}   # a cat, but not the drawing's layout
    assert pick_strength(mean, [0.9, 0.5, 0.7]) == 0.7
    mean["sdedit_0.7"]["layout_l2"] = 0.021
    assert pick_strength(mean, [0.5, 0.7, 0.9]) is None


def test_drag_bench_measures_a_local_move_by_patch_matching():
    import numpy as np
    from PIL import Image

    from bench.drag import match_along
    rng = np.random.default_rng(0)
    a = (rng.random((64, 64, 3)) * 255).astype(np.uint8)
    b = a.copy()
    b[14:28, 14:28] = a[20:34, 14:28]                    # only the patch around (21, 27) moves 6 px up
    before, after = Image.fromarray(a), Image.fromarray(b)
    assert match_along(before, after, (21, 27), (21, 21), 64) == pytest.approx(1.0, abs=0.05)
    assert match_along(before, before, (21, 27), (21, 21), 64) == pytest.approx(0.0, abs=0.05)
