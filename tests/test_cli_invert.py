"""``python -m engines invert`` (engines/cli/invert.py): files written, JSON metrics."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from engines.cli.main import main
from engines.stylegan.checkpoints import save_gan


def test_invert_writes_recon_latent_and_metrics(tmp_path, tiny_g, tiny_d, tiny_engine):
    save_gan(tmp_path / "m", tiny_g, tiny_d, fp16=False)
    paths = []
    for i, img in enumerate(tiny_engine.sample(3, seed=1)):
        img.save(tmp_path / f"p{i}.png")
        paths.append(str(tmp_path / f"p{i}.png"))
    assert main(["invert", *paths, "--model", str(tmp_path / "m"), "--steps", "5", "--batch", "2",
                 "--out", str(tmp_path / "out")]) == 0
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert set(metrics["images"]) == {"p0.png", "p1.png", "p2.png"}
    for m in metrics["images"].values():
        assert {"psnr", "ssim", "perceptual", "seconds", "steps"} <= set(m) and m["steps"] == 5
    assert np.load(tmp_path / "out" / "p2.npz")["latent"].shape == (1, tiny_g.num_ws, 32)
    assert Image.open(tmp_path / "out" / "p0_recon.png").size == (32, 32)
