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
