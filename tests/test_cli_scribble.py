"""``python -m engines scribble`` (engines/cli/scribble.py): files written, JSON metrics, clear errors."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from engines.cli.main import main
from engines.stylegan.checkpoints import save_gan


def test_scribble_writes_result_and_metrics(tmp_path, tiny_g, tiny_d):
    save_gan(tmp_path / "m", tiny_g, tiny_d, fp16=False)
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[10:20, 5:25] = (30, 200, 30, 255)  # green stroke, transparent elsewhere
    Image.fromarray(rgba, "RGBA").save(tmp_path / "s.png")
    assert main(["scribble", str(tmp_path / "s.png"), "--model", str(tmp_path / "m"), "--steps", "5",
                 "--restarts", "2", "--out", str(tmp_path / "o")]) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["masked_l2"] >= 0 and m["latent_distance"] >= 0 and m["restarts"] == 2
    assert (tmp_path / "o" / "s_result.png").exists() and (tmp_path / "o" / "s_progress.gif").exists()


def test_scribble_with_no_strokes_is_a_clear_error(tmp_path, tiny_g, capsys):
    save_gan(tmp_path / "m", tiny_g)
    Image.new("RGB", (32, 32), "white").save(tmp_path / "blank.png")
    assert main(["scribble", str(tmp_path / "blank.png"), "--model", str(tmp_path / "m"), "--out", str(tmp_path / "o")]) == 2
    assert "empty" in capsys.readouterr().err
