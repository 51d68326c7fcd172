"""The GPU burst end to end on CPU: pack → train_burst.sh (seconds, not minutes) → unpack → load → resume.

The device machine runs the same script with the same code paths (only the budgets, batch and
device differ), so a break shows here first, not in ten minutes of borrowed GPU time.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engines import data as datasets
from engines.base import LatentStudioError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
SHIPPED_GAN = ROOT / "weights" / "stylegan2-cats64"
#: A conv-only 64 px UNet small enough that the DDIM sample grid takes a second on one CPU thread.
TINY_UNET = dict(sample_size=64, in_channels=3, out_channels=3, block_out_channels=(8, 16), layers_per_block=1,
                 down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                 norm_num_groups=4, num_class_embeds=3)

pytestmark = pytest.mark.skipif(any(shutil.which(t) is None for t in ("bash", "timeout")),
                                reason="the burst script needs bash and timeout")


def photos(tmp_path: Path) -> tuple[Path, Path]:
    """40 cat photos and 12 Grumpy-Cat photos from ../shared (synthetic ones where it is absent)."""
    cats, grumpy = tmp_path / "cats", tmp_path / "grumpy"
    for dest, src, n, suffix in ((cats, SHARED / "cats", 40, ".jpg"), (grumpy, SHARED / "grumpy", 12, ".png")):
        dest.mkdir()
        if src.is_dir():
            for f in datasets.list_images(src)[:n]:
                shutil.copy(f, dest / f.name)
        else:
            rng = np.random.default_rng(len(str(dest)))
            for i in range(n):
                Image.fromarray(rng.integers(0, 255, (80, 72, 3), dtype=np.uint8)).save(dest / f"{i}{suffix}")
    return cats, grumpy


def fake_nvidia_smi(bin_dir: Path) -> None:
    """An nvidia-smi that names a GPU, or with -l prints a load sample every 0.2 s (the burst's sampler)."""
    bin_dir.mkdir()
    tool = bin_dir / "nvidia-smi"
    tool.write_text('#!/bin/sh\ncase "$*" in *" -l "*) while :; do echo "2026/11/28 10:00:00.000, 50, 1000, [N/A]"; '
                    'sleep 0.2; done;; *) echo "Fake GPU, 1000 MiB, 0";; esac\n')
    tool.chmod(0o755)


def fake_site(whl: Path) -> None:
    """A site.tar.xz holding one probe module, standing in for the unpacked diffusers wheel."""
    whl.mkdir()
    with tarfile.open(whl / "site.tar.xz", "w:xz") as tar:
        data = b"PROBE = 1\n"
        info = tarfile.TarInfo("burst_site_probe.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))


@pytest.mark.skipif(not (SHIPPED_GAN / "model.safetensors").is_file(), reason="needs the shipped StyleGAN2 weights")
def test_burst_end_to_end_on_cpu(tmp_path):
    from bench.gpu.pack import read_pack
    from bench.gpu.unpack import unpack
    from engines.diffusion.pixel_pipeline import build_pixel_pipeline
    t0 = time.perf_counter()
    cats, grumpy = photos(tmp_path)
    data, whl = tmp_path / ".data", tmp_path / ".whl"
    fake_site(whl)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    pack = subprocess.run([sys.executable, "-m", "bench.gpu.pack", "--cats", str(cats), "--grumpy", str(grumpy),
                           "--data-dir", str(data), "--whl-dir", str(whl), "--no-wheels", "--no-budget"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert pack.returncode == 0, pack.stderr
    assert '"command": "bash bench/gpu/train_burst.sh"' in pack.stdout

    # The pack holds exactly the training split, under the original names, at 64 px.
    meta, classes = read_pack(data / "cats64.npz")
    for name, folder, share in (("cat", cats, 0.05), ("grumpy cat", grumpy, 0.1)):
        train, _ = datasets.split(datasets.list_images(folder), share)
        names, images = classes[name]
        assert names == [f.name for f in train]
        assert images.dtype == torch.uint8 and images.shape[1:] == (3, 64, 64)
        exact = datasets.load_images(train, 64).float()
        assert (images.float() - exact).abs().mean() < 4          # lossy WebP, but close
    assert meta["codec"] == "webp" and meta["resolution"] == 64

    tiny = tmp_path / "tiny-ddpm"
    build_pixel_pipeline(TINY_UNET, class_names=("cat", "grumpy cat")).save_pretrained(tiny)
    out, work = tmp_path / "out", tmp_path / "work"
    fake_nvidia_smi(tmp_path / "bin")
    burst_env = {**env, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "OUT": str(out), "PYTHON": sys.executable, "BURST_WORK": str(work),
                 "BURST_PACK": str(data / "cats64.npz"), "BURST_WHL_DIR": str(whl), "BURST_DEVICE": "cpu",
                 "BURST_GAN_SECONDS": "2", "BURST_DDPM_SECONDS": "2", "BURST_GAN_BATCH": "4", "BURST_DDPM_BATCH": "4",
                 "BURST_DDPM_FROM": str(tiny), "BURST_DDPM_OVERRIDES": '{"grid_steps": 2, "warmup_steps": 1}',
                 "BURST_LOG_EVERY": "1", "BURST_SNAPSHOT_SECONDS": "9999", "BURST_PART_BYTES": str(2 ** 20)}
    burst = subprocess.run(["bash", "bench/gpu/train_burst.sh"], cwd=ROOT, env=burst_env, capture_output=True,
                           text=True, timeout=240)
    assert burst.returncode == 0, burst.stdout[-4000:] + burst.stderr[-2000:]

    # What comes back fits the device tool: ≤ 8 plain files, each < 16 MiB, 64 MiB in all, plain names.
    files = sorted(out.iterdir())
    assert all(f.is_file() for f in files) and len(files) <= 8
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f.name) for f in files)
    assert all(f.stat().st_size < 16 * 2 ** 20 for f in files) and sum(f.stat().st_size for f in files) < 64 * 2 ** 20
    log = (out / "burst.log").read_text()
    assert "burst_site_probe.py" in log                          # the carried site archive was unpacked
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["parts"]) >= 2 and not summary["left_out"]  # split, nothing dropped
    assert "Fake GPU" in log and summary["gpu_util"]["busy_samples"] > 0 and summary["gpu_util"]["util_pct_mean"] == 50
    for kind, mode in (("gan", "fine-tune"), ("ddpm", "fine-tune")):
        stage = summary["stages"][kind]
        assert stage["ok"] and stage["exit_code"] == 0 and stage["mode"] == mode, stage
        assert stage["img_per_s"] > 0 and stage["images_this_run"] > 0 and stage["device"] == "cpu"
        assert stage["env"]["torch"] == torch.__version__
    assert summary["stages"]["gan"]["from"] == str(SHIPPED_GAN)

    # Bring it back: parts joined and checked, states expanded to fp32; everything loads.
    back = tmp_path / "back"
    info = unpack(out, back)
    assert info["expanded"] == ["gan", "ddpm"]
    for kind in ("gan", "ddpm"):
        lines = [json.loads(x) for x in (back / kind / "log.jsonl").read_text().splitlines()]
        assert lines and lines[-1]["steps"] == summary["stages"][kind]["steps_this_run"]
        assert list((back / kind).glob("grid_*kimg.png"))
    assert (back / "gan" / "grid_start.png").is_file()

    from safetensors import safe_open

    from engines.stylegan.checkpoints import load_gan
    bundle = load_gan(str(back / "gan" / "latest"))
    assert bundle.G.img_resolution == 64 and bundle.D is not None
    with safe_open(str(back / "gan" / "latest" / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys() if k.startswith("G_ema.")} >= {torch.float16}

    from engines.diffusion.loading import load_backend
    backend, _ = load_backend(str(back / "ddpm" / "latest"), device=torch.device("cpu"))
    assert backend.kind == "pixel"

    # The expanded states resume exactly (counters, weights, the DDPM's EMA from latest/).
    from bench.gpu.burst import unet_architecture
    from engines.diffusion.train import DiffusionTrainConfig, DiffusionTrainer
    from engines.stylegan.train import GanTrainer, TrainConfig
    gan_cfg = json.loads((back / "gan" / "latest" / "config.json").read_text())["training"]["config"]
    gan = GanTrainer(TrainConfig(data="x", out=str(tmp_path / "g2"), resume=str(back / "gan"), batch=4, minutes=1,
                                 device="cpu", model=gan_cfg["model"]), images=classes["cat"][1])
    assert gan.nimg == summary["stages"]["gan"]["images_seen_total"]
    for name, t in bundle.G.state_dict().items():
        torch.testing.assert_close(gan.G_ema.state_dict()[name], t.float(), atol=1e-3, rtol=1e-3)
    ddpm = DiffusionTrainer(DiffusionTrainConfig(classes={"cat": "x", "grumpy cat": "y"}, out=str(tmp_path / "d2"),
                                                 resume=str(back / "ddpm"), unet=unet_architecture(back / "ddpm" / "latest"),
                                                 kimg=1, device="cpu"),
                            images={n: classes[n][1] for n in ("cat", "grumpy cat")})
    assert ddpm.nimg == summary["stages"]["ddpm"]["images_seen_total"]
    from diffusers import UNet2DModel
    shipped = UNet2DModel.from_pretrained(str(back / "ddpm" / "latest" / "unet"))
    for ema, p in zip(ddpm.ema.shadow_params, shipped.parameters(), strict=True):
        assert ema.dtype == torch.float32
        torch.testing.assert_close(ema, p.float())
    assert time.perf_counter() - t0 < 120


def test_compact_state_halves_and_expands(tmp_path):
    """fp16 weights, bf16 Adam moments, Adam's step count untouched; expansion restores fp32."""
    from bench.gpu.compact import compact_state, expand_state
    lin = torch.nn.Linear(8, 4)
    opt = torch.optim.Adam(lin.parameters())
    lin(torch.randn(3, 8)).sum().backward()
    opt.step()
    state = {"G": lin.state_dict(), "D": lin.state_dict(), "G_ema": lin.state_dict(), "opt_G": opt.state_dict(),
             "opt_D": opt.state_dict(), "counters": torch.tensor([12, 3]), "elapsed": torch.tensor(1.5, dtype=torch.float64)}
    small = compact_state(state, "gan")
    assert small["G"]["weight"].dtype == torch.float16
    assert small["opt_G"]["state"][0]["exp_avg_sq"].dtype == torch.bfloat16
    assert small["opt_G"]["state"][0]["step"].dtype == state["opt_G"]["state"][0]["step"].dtype
    torch.save(small, tmp_path / "s.pt")
    back = expand_state(torch.load(tmp_path / "s.pt", weights_only=True), "gan", tmp_path)
    assert "compact" not in back and back["G"]["weight"].dtype == torch.float32
    torch.testing.assert_close(back["G"]["weight"], lin.weight.detach(), atol=1e-3, rtol=1e-3)
    opt.load_state_dict(back["opt_G"])                          # loads into a live optimiser
    assert torch.equal(back["counters"], state["counters"])


def test_burst_refuses_a_folder_it_cannot_start_from(tmp_path):
    from bench.gpu.burst import pick_source, start_from
    assert pick_source("gan", "scratch", tmp_path / "p.npz") is None
    assert pick_source("ddpm", "auto", tmp_path / "p.npz") == ROOT / "weights" / "ddpm-cats64"
    (tmp_path / "resume" / "gan").mkdir(parents=True)
    (tmp_path / "resume" / "gan" / "config.json").write_text("{}")
    assert pick_source("gan", "auto", tmp_path / "p.npz") == tmp_path / "resume" / "gan"
    with pytest.raises(SystemExit):
        start_from("ddpm", tmp_path, tmp_path / "out")


def test_ddpm_init_checks_classes_and_conflicts(tmp_path):
    from engines.diffusion.pixel_pipeline import build_pixel_pipeline
    from engines.diffusion.train import DiffusionTrainConfig, DiffusionTrainer
    build_pixel_pipeline(TINY_UNET, class_names=("cat", "dog")).save_pretrained(tmp_path / "p")
    with pytest.raises(LatentStudioError, match="not both"):
        DiffusionTrainConfig(classes={"cat": "x"}, out="o", resume="r", init="i", kimg=1)
    images = {n: torch.zeros(2, 3, 64, 64, dtype=torch.uint8) for n in ("cat", "grumpy cat")}
    with pytest.raises(LatentStudioError, match="classes"):
        DiffusionTrainer(DiffusionTrainConfig(classes={"cat": "x", "grumpy cat": "y"}, out=str(tmp_path / "o"),
                                              init=str(tmp_path / "p"), kimg=1, device="cpu"), images=images)


@pytest.mark.parametrize("kind", ["gan", "ddpm"])
def test_burst_starts_from_what_ships_and_from_a_cpu_run_with_a_kimg_schedule(tmp_path, kind):
    """The prepared burst must build its stage from the shipped weights, whatever recipe trained them; a CPU
    run's cosine decay to its own --kimg end and its gradient accumulation are not the burst's (it runs by the
    clock), and inheriting them made the stage refuse to start."""
    from bench.gpu.burst import SHIPPED, _training_config, stage_config
    meta = {"resolution": 64, "classes": [{"name": "cat"}, {"name": "grumpy cat"}]}
    kw = dict(out=tmp_path / "o", batch=256, seconds=200, device="cpu", snapshot_seconds=0, pack=tmp_path / "p.npz",
              meta=meta)
    cfg = stage_config(kind, _training_config(SHIPPED[kind], kind), {}, {}, **kw)
    assert cfg.kimg is None and cfg.batch == 256 and cfg.minutes == pytest.approx(200 / 60)
    if kind == "ddpm":
        cpu_run = tmp_path / "cpu-run"
        cpu_run.mkdir()
        (cpu_run / "training.json").write_text(json.dumps({"config": {
            "lr": 5e-5, "lr_decay": "cosine", "kimg": 24, "accumulate": 8, "high_noise_share": 0.7}}))
        cfg = stage_config(kind, _training_config(cpu_run, kind), {}, {}, **kw)
        assert (cfg.lr, cfg.lr_decay, cfg.accumulate, cfg.high_noise_share) == (5e-5, "constant", 1, 0.7)
        with pytest.raises(LatentStudioError, match="kimg"):     # asked for explicitly, the check still speaks
            stage_config(kind, {}, {"lr_decay": "cosine"}, {}, **kw)
