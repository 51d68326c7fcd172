"""Diffusion training: the denoising loss falls, classes are balanced, labels drop out, snapshots load."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import LatentStudioError
from engines.cli.main import main
from engines.diffusion.pixel_pipeline import ClassConditionalPixelPipeline
from engines.diffusion.tiny import TINY_PIXEL_UNET
from engines.diffusion.train import STATE_NAME, DiffusionTrainConfig, DiffusionTrainer

UNET = {k: v for k, v in TINY_PIXEL_UNET.items() if k != "num_class_embeds"}


def images(n_cat=32, n_grumpy=4):
    cat = torch.tensor([200, 120, 40], dtype=torch.uint8).view(1, 3, 1, 1).repeat(n_cat, 1, 16, 16)
    grumpy = torch.tensor([90, 90, 220], dtype=torch.uint8).view(1, 3, 1, 1).repeat(n_grumpy, 1, 16, 16)
    return {"cat": cat, "grumpy cat": grumpy}


def config(tmp_path, **kw):
    base = dict(classes={"cat": "unused", "grumpy cat": "unused"}, out=str(tmp_path / "run"), batch=8, kimg=0.04,
                unet=UNET, warmup_steps=2, device="cpu", lr=1e-3, grid_steps=3)
    return DiffusionTrainConfig(**{**base, **kw})


@torch.no_grad()
def fixed_loss(trainer):
    gen = torch.Generator().manual_seed(0)
    x = torch.cat([t[:4] for t in trainer.images]).float() / 127.5 - 1
    noise = torch.randn(x.shape, generator=gen)
    t = torch.linspace(50, 950, len(x)).long()
    noisy = trainer.noise_scheduler.add_noise(x, noise, t)
    labels = torch.tensor([0] * 4 + [1] * 4)
    sched = trainer.noise_scheduler
    target = noise if sched.config.prediction_type == "epsilon" else sched.get_velocity(x, noise, t)
    return float(torch.nn.functional.mse_loss(trainer.unet(noisy, t, class_labels=labels).sample, target))


@pytest.mark.parametrize("prediction_type", ["v_prediction", "epsilon"])
def test_denoising_loss_falls(tmp_path, prediction_type):
    torch.manual_seed(0)
    trainer = DiffusionTrainer(config(tmp_path, prediction_type=prediction_type), images=images())
    before = fixed_loss(trainer)
    for _ in range(60):
        trainer.step()
    assert fixed_loss(trainer) < 0.7 * before


def test_small_class_is_oversampled_and_labels_drop_out(tmp_path):
    trainer = DiffusionTrainer(config(tmp_path, batch=2000, label_dropout=0.2), images=images())
    assert trainer.class_weights.tolist() == pytest.approx([0.75, 0.25])
    _, labels = trainer.batch()
    counts = torch.bincount(labels, minlength=3).float() / len(labels)
    assert counts[2] == pytest.approx(0.2, abs=0.04)             # the null class (id 2)
    assert counts[1] == pytest.approx(0.25 * 0.8, abs=0.04)      # grumpy, 25 % before dropout


def test_snapshot_is_a_diffusers_folder_and_resume_is_exact(tmp_path):
    trainer = DiffusionTrainer(config(tmp_path), images=images())
    summary = trainer.run()
    run = tmp_path / "run"
    assert (run / STATE_NAME).is_file() and list(run.glob("grid_*kimg.png"))
    pipe = ClassConditionalPixelPipeline.from_pretrained(str(run / "latest"))
    assert pipe.classes == ["cat", "grumpy cat"] and pipe.unet.config.num_class_embeds == 3
    from safetensors import safe_open
    with safe_open(str(run / "latest" / "unet" / "diffusion_pytorch_model.safetensors"), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype == torch.float16
    info = json.loads((run / "latest" / "training.json").read_text())
    assert info["images_seen"] == summary["images_seen"]
    resumed = DiffusionTrainer(config(tmp_path, resume=str(run)), images=images())
    assert (resumed.nimg, resumed.steps) == (trainer.nimg, trainer.steps)
    for a, b in zip(trainer.unet.parameters(), resumed.unet.parameters()):
        torch.testing.assert_close(a, b)
    assert resumed.lr_schedule.last_epoch == trainer.lr_schedule.last_epoch
    assert resumed.opt.param_groups[0]["lr"] == pytest.approx(1e-3)
    # a resumed run takes the lr it is given (the saved optimizer state must not override it)
    slower = DiffusionTrainer(config(tmp_path, resume=str(run), lr=2.5e-4), images=images())
    assert slower.opt.param_groups[0]["lr"] == pytest.approx(2.5e-4)
    assert slower.opt.state_dict()["state"]  # the Adam moments still came back
    slower.step()
    assert slower.lr_schedule.get_last_lr()[0] == pytest.approx(2.5e-4)


@pytest.mark.parametrize("decay", ["cosine", "linear"])
def test_learning_rate_decays_to_zero_where_the_kimg_budget_ends(tmp_path, decay):
    """--lr-decay: warm-up, then down to 0 at the run's last step (kimg 0.04 at batch 8: step 5); a resumed run
    with another budget decays to 0 where its own budget ends."""
    trainer = DiffusionTrainer(config(tmp_path, lr_decay=decay, warmup_steps=1), images=images())
    lrs = []
    for _ in range(5):
        trainer.step()
        lrs.append(trainer.lr_schedule.get_last_lr()[0])
    assert lrs[0] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(0.0, abs=1e-12)
    assert all(a > b for a, b in zip(lrs, lrs[1:]))
    if decay == "linear":
        assert lrs[1] == pytest.approx(1e-3 * 3 / 4)  # steps 1..5 of a 4-step decay after 1 warm-up step
    trainer.snapshot(grid=False)
    resumed = DiffusionTrainer(config(tmp_path, lr_decay=decay, warmup_steps=1, resume=str(tmp_path / "run"),
                                      kimg=0.08), images=images())
    assert resumed.steps == 5 and resumed.opt.param_groups[0]["lr"] > 0
    for _ in range(10):
        resumed.step()
    assert resumed.lr_schedule.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(LatentStudioError, match="kimg"):
        DiffusionTrainConfig(classes={"cat": "x"}, out="y", minutes=1, lr_decay=decay)


def test_bad_configs_are_clear(tmp_path):
    with pytest.raises(LatentStudioError, match="budget"):
        DiffusionTrainConfig(classes={"cat": "x"}, out="y")
    with pytest.raises(LatentStudioError, match="class"):
        DiffusionTrainConfig(classes={}, out="y", kimg=1)
    with pytest.raises(LatentStudioError, match="uint8"):
        DiffusionTrainer(config(tmp_path), images={"cat": torch.zeros(2, 3, 8, 8, dtype=torch.uint8),
                                                   "grumpy cat": torch.zeros(2, 3, 8, 8, dtype=torch.uint8)})
    with pytest.raises(LatentStudioError, match="No training state"):
        DiffusionTrainer(config(tmp_path, resume=str(tmp_path / "nothing")), images=images())


def test_cli_trains_from_folders(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name, n in (("cats", 8), ("grumpy", 3)):
        (tmp_path / name).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    code = main(["train-diffusion", "--class", f"cat={tmp_path / 'cats'}", "--class", f"grumpy cat={tmp_path / 'grumpy'}",
                 "--out", str(tmp_path / "run"), "--kimg", "0.016", "--batch", "4", "--device", "cpu",
                 "--unet-json", json.dumps(UNET), "--grid-steps", "3"])
    assert code == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["images_seen"] >= 16
    with pytest.raises(SystemExit):
        main(["train-diffusion", "--class", "cat", "--out", str(tmp_path / "r2"), "--kimg", "1"])
    assert main(["train-diffusion", "--class", f"cat={tmp_path / 'cats'}", "--out", str(tmp_path / "r3")]) == 2


def test_min_snr_weights_cap_the_easy_timesteps_and_plain_mse_is_the_default(tmp_path):
    trainer = DiffusionTrainer(config(tmp_path, snr_gamma=5.0), images=images())
    t = torch.tensor([1, 500, 999])
    w = trainer.loss_weights(t)
    snr = trainer.noise_scheduler.alphas_cumprod[t] / (1 - trainer.noise_scheduler.alphas_cumprod[t])
    torch.testing.assert_close(w, torch.minimum(snr, torch.tensor(5.0)) / (snr + 1))
    assert w[0] < 1 and w.max() <= 1                                  # v-loss weights never exceed 1
    plain = DiffusionTrainer(config(tmp_path, snr_gamma=None), images=images())
    assert torch.equal(plain.loss_weights(t), torch.ones(3))
    assert config(tmp_path).snr_gamma is None                         # plain v-MSE unless asked (model card)


def test_a_run_can_train_at_a_lower_resolution_and_resume_at_full(tmp_path):
    small = {k: v[:, :, :8, :8].contiguous() for k, v in images().items()}
    low = DiffusionTrainer(config(tmp_path, resolution=8), images=small)
    x, _ = low.batch()
    assert x.shape[-1] == 8 and low.step()["loss"] > 0
    low.snapshot(grid=False)
    full = DiffusionTrainer(config(tmp_path, resume=str(tmp_path / "run")), images=images())
    assert full.resolution == 16 and full.steps == 1 and full.batch()[0].shape[-1] == 16
    with pytest.raises(LatentStudioError, match="multiple of 2"):
        DiffusionTrainer(config(tmp_path, resolution=7), images=small)


def test_sigterm_stops_training_with_a_snapshot(tmp_path):
    import os
    import signal
    import threading
    trainer = DiffusionTrainer(config(tmp_path, kimg=1000.0), images=images())
    snapshot = trainer.snapshot
    trainer.snapshot = lambda grid=True: snapshot(grid=False)   # the sample grid is not what this test is about
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    summary = trainer.run()                              # returns instead of dying
    assert 0 < summary["images_seen"] < 1_000_000
    assert (tmp_path / "run" / STATE_NAME).is_file() and (tmp_path / "run" / "latest" / "model_index.json").is_file()
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL     # the handler does not outlive the run


def test_high_noise_share_draws_that_share_of_timesteps_from_the_noisier_half(tmp_path):
    torch.manual_seed(0)
    uniform = DiffusionTrainer(config(tmp_path), images=images()).timesteps(20000)
    torch.manual_seed(0)
    biased = DiffusionTrainer(config(tmp_path, high_noise_share=0.75), images=images()).timesteps(20000)
    assert uniform.min() >= 0 and uniform.max() <= 999 and biased.min() >= 0 and biased.max() <= 999
    assert abs(float((uniform >= 500).float().mean()) - 0.5) < 0.02
    assert abs(float((biased >= 500).float().mean()) - 0.75) < 0.02
    assert len(biased[biased < 500].unique()) > 450 and len(biased[biased >= 500].unique()) > 450  # uniform within halves
    a = DiffusionTrainer(config(tmp_path), images=images()).noise_scheduler.alphas_cumprod
    snr = a / (1 - a)
    assert snr[500:].max() < 1 < snr[:490].min()                      # the option's help: t ≥ 500 is SNR < 1
    with pytest.raises(LatentStudioError, match="high_noise_share"):
        config(tmp_path, high_noise_share=1.0)
