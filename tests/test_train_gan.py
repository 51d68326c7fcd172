"""GAN training: the loop learns, snapshots ship in our format, runs resume exactly, fine-tuning works."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import LatentStudioError
from engines.cli.main import main
from engines.stylegan.checkpoints import load_gan
from engines.stylegan.train import STATE_NAME, GanTrainer, TrainConfig

TINY = dict(z_dim=16, w_dim=16, channel_base=256, channel_max=16, mapping_layers=2)


def solid(color, n=16, res=16) -> torch.Tensor:
    return torch.tensor(color, dtype=torch.uint8).view(1, 3, 1, 1).repeat(n, 1, res, res)


def config(tmp_path, **kw) -> TrainConfig:
    base = dict(data=str(tmp_path / "unused"), out=str(tmp_path / "run"), resolution=16, batch=8, kimg=0.05,
                model=TINY, augment="translation", device="cpu", ema_kimg=0.05)
    return TrainConfig(**{**base, **kw})


def test_generator_learns_the_data_colour(tmp_path):
    torch.manual_seed(0)
    trainer = GanTrainer(config(tmp_path, augment="none", lr=0.005), images=solid((230, 30, 30)))
    target = torch.tensor([230, 30, 30]).view(1, 3) / 127.5 - 1

    def colour_error():
        with torch.no_grad():
            img = trainer.G(torch.randn(32, trainer.G.z_dim))
        return float((img.mean(dim=(2, 3)) - target).abs().mean())
    before = colour_error()
    for _ in range(150):
        stats = trainer.step()
    assert all(np.isfinite(v) for v in stats.values())
    assert colour_error() < 0.5 * before


def test_dcgan_trains_with_the_same_loop(tmp_path):
    trainer = GanTrainer(config(tmp_path, arch="dcgan", model=dict(z_dim=8, base_channels=8)), images=solid((0, 200, 0)))
    stats = trainer.step()
    assert {"loss_D", "loss_G", "real", "fake"} <= set(stats) and "r1" not in stats
    assert trainer.nimg == 8


def test_lazy_r1_runs_every_interval(tmp_path):
    trainer = GanTrainer(config(tmp_path, r1_interval=2), images=solid((10, 20, 30)))
    seen = ["r1" in trainer.step() for _ in range(4)]
    assert seen == [True, False, True, False]


def test_snapshot_ships_fp16_weights_that_load(tmp_path):
    trainer = GanTrainer(config(tmp_path), images=solid((100, 100, 200)))
    summary = trainer.run()
    run = tmp_path / "run"
    assert summary["images_seen"] >= 50 and (run / STATE_NAME).is_file()
    assert list(run.glob("grid_*kimg.png"))
    bundle = load_gan(str(run / "latest"))
    assert bundle.D is not None and bundle.arch == "stylegan2"
    info = json.loads((run / "latest" / "config.json").read_text())["training"]
    assert info["images_seen"] == summary["images_seen"] and info["config"]["batch"] == 8
    with torch.no_grad():  # the shipped generator is the EMA one
        torch.testing.assert_close(bundle.G(torch.ones(1, 16)), trainer.G_ema(torch.ones(1, 16)), atol=2e-2, rtol=0)


def test_exact_resume_continues_counters_and_weights(tmp_path):
    images = solid((50, 80, 120))
    first = GanTrainer(config(tmp_path), images=images)
    first.run()
    resumed = GanTrainer(config(tmp_path, resume=str(tmp_path / "run")), images=images)
    assert (resumed.nimg, resumed.steps) == (first.nimg, first.steps)
    for a, b in zip(first.G.parameters(), resumed.G.parameters()):
        torch.testing.assert_close(a, b)
    assert resumed.opt_G.state_dict()["state"]  # Adam moments came back too
    # a resumed run takes the lr it is given, not the one saved with the optimizer state
    slower = GanTrainer(config(tmp_path, resume=str(tmp_path / "run"), lr=first.cfg.lr / 4), images=images)
    assert slower.opt_G.param_groups[0]["lr"] == pytest.approx(first.cfg.lr / 4)
    assert slower.opt_D.param_groups[0]["lr"] == pytest.approx(first.opt_D.param_groups[0]["lr"] / 4)
    resumed.run()
    assert resumed.nimg >= first.nimg + 50


def test_fine_tune_starts_from_shipped_weights(tmp_path):
    images = solid((50, 80, 120))
    GanTrainer(config(tmp_path), images=images).run()
    shipped = load_gan(str(tmp_path / "run" / "latest"))
    tuned = GanTrainer(config(tmp_path, out=str(tmp_path / "tuned"), resume=str(tmp_path / "run" / "latest")),
                       images=solid((250, 250, 0)))
    assert tuned.nimg == 0
    for a, b in zip(shipped.G.parameters(), tuned.G.parameters()):
        torch.testing.assert_close(a.float(), b)


def test_bad_configs_are_clear(tmp_path):
    with pytest.raises(LatentStudioError, match="budget"):
        TrainConfig(data="x", out="y")
    with pytest.raises(LatentStudioError, match="Unknown arch 'vae': use one of stylegan2, dcgan"):
        TrainConfig(data="x", out="y", arch="vae", kimg=1)
    with pytest.raises(LatentStudioError, match="unknown augmentation"):
        TrainConfig(data="x", out="y", kimg=1, augment="rotate")
    with pytest.raises(LatentStudioError, match="does not exist"):
        GanTrainer(config(tmp_path, data=str(tmp_path / "missing")))
    with pytest.raises(LatentStudioError, match=r"uint8 \[N, 3, 32, 32\]"):
        GanTrainer(config(tmp_path, resolution=32), images=solid((1, 2, 3), res=16))


def test_cli_trains_from_a_folder(tmp_path, capsys):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        Image.fromarray(rng.integers(0, 255, (20, 24, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    code = main(["train-gan", "--data", str(folder), "--out", str(tmp_path / "run"), "--resolution", "16",
                 "--kimg", "0.02", "--batch", "4", "--device", "cpu", "--model-json", json.dumps(TINY)])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["images_seen"] >= 20
    assert (tmp_path / "run" / "latest" / "model.safetensors").is_file()
    assert main(["train-gan", "--data", str(folder), "--out", str(tmp_path / "r2"), "--kimg", "1",
                 "--model-json", "{oops"]) == 2
    assert main(["train-gan", "--data", str(folder), "--out", str(tmp_path / "r3")]) == 2
    assert "budget" in capsys.readouterr().err
