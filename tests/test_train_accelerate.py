"""Both trainers on accelerate: one training step on 2 CPU processes (torchrun, gloo) equals the one-process step
on the same global batch, so do ``accumulate`` micro-batches; bad splits and precisions are clear errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engines.base import LatentStudioError
from engines.diffusion.tiny import TINY_PIXEL_UNET
from engines.diffusion.train import DiffusionTrainConfig, DiffusionTrainer
from engines.stylegan.train import GanTrainer, TrainConfig
from engines.training import resolve_precision, split_batch

ROOT = Path(__file__).resolve().parents[1]
TINY_G = dict(z_dim=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16)
TINY_UNET = {**{k: v for k, v in TINY_PIXEL_UNET.items() if k != "num_class_embeds"}, "sample_size": 16}

#: Runs on every process: one step of each trainer, then each process saves what it holds.
WORKER = """
import json, sys, torch
from engines.diffusion.tiny import TINY_PIXEL_UNET
from engines.diffusion.train import DiffusionTrainConfig, DiffusionTrainer
from engines.stylegan.train import GanTrainer, TrainConfig
spec = json.load(open(sys.argv[1]))
images = torch.load(spec["images"])
gan = GanTrainer(TrainConfig(**spec["gan"]), images=images["gan"])
gan.step()
ddpm = DiffusionTrainer(DiffusionTrainConfig(**spec["ddpm"]), images=images["ddpm"])
ddpm.step()
torch.save({"world": gan.world, "G": gan.G.state_dict(), "D": gan.D.state_dict(), "G_ema": gan.G_ema.state_dict(),
            "unet": ddpm.unet.state_dict()}, spec["result"].format(rank=gan.rank))
"""


def _images() -> dict:
    gen = torch.Generator().manual_seed(5)
    return {"gan": torch.randint(0, 255, (24, 3, 16, 16), dtype=torch.uint8, generator=gen),
            "ddpm": {"cat": torch.randint(0, 255, (20, 3, 16, 16), dtype=torch.uint8, generator=gen),
                     "grumpy cat": torch.randint(0, 255, (6, 3, 16, 16), dtype=torch.uint8, generator=gen)}}


def _configs(tmp_path: Path, **extra) -> tuple[dict, dict]:
    gan = dict(data="x", out=str(tmp_path / "gan"), resolution=16, batch=8, kimg=1, device="cpu", model=TINY_G,
               augment="none", **extra)  # DiffAugment draws per process: off, so the step is exactly comparable
    ddpm = dict(classes={"cat": "x", "grumpy cat": "y"}, out=str(tmp_path / "ddpm"), batch=8, kimg=1, device="cpu",
                unet=TINY_UNET, warmup_steps=1, **extra)
    return gan, ddpm


def _one_step(gan_cfg: dict, ddpm_cfg: dict) -> dict:
    images = _images()
    gan = GanTrainer(TrainConfig(**gan_cfg), images=images["gan"])
    gan.step()
    ddpm = DiffusionTrainer(DiffusionTrainConfig(**ddpm_cfg), images=images["ddpm"])
    ddpm.step()
    return {"G": gan.G.state_dict(), "D": gan.D.state_dict(), "G_ema": gan.G_ema.state_dict(),
            "unet": ddpm.unet.state_dict()}


def _assert_same(a: dict, b: dict, nets=("G", "D", "G_ema", "unet")) -> None:
    for net in nets:
        for name, value in a[net].items():
            if value.is_floating_point():
                # Adam's first step is about lr · sign(grad): only a sign flip of a ~0 gradient could differ more
                torch.testing.assert_close(b[net][name], value, atol=1e-5, rtol=1e-4, msg=f"{net}.{name}")


def test_two_processes_step_like_one_on_the_same_global_batch(tmp_path):
    gan_cfg, ddpm_cfg = _configs(tmp_path)
    single = _one_step(gan_cfg, ddpm_cfg)
    torch.save(_images(), tmp_path / "images.pt")
    spec = {"images": str(tmp_path / "images.pt"), "gan": {**gan_cfg, "out": str(tmp_path / "g2")},
            "ddpm": {**ddpm_cfg, "out": str(tmp_path / "d2")}, "result": str(tmp_path / "rank{rank}.pt")}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "worker.py").write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          str(tmp_path / "worker.py"), str(tmp_path / "spec.json")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-3000:]
    for rank in (0, 1):  # each process holds the same weights, and they are the one-process step's
        two = torch.load(tmp_path / f"rank{rank}.pt")
        assert two["world"] == 2
        _assert_same(single, two)
    moved = max(float((single["G"][k] - v).abs().max()) for k, v in _one_step_init(gan_cfg).items()
                if v.is_floating_point())
    assert moved > 1e-4  # the step did move the weights, so equality above means something


def _one_step_init(gan_cfg: dict) -> dict:
    return GanTrainer(TrainConfig(**gan_cfg), images=_images()["gan"]).G.state_dict()


def test_accumulated_micro_batches_step_like_one_batch(tmp_path):
    whole = _one_step(*_configs(tmp_path))
    parts = _one_step(*_configs(tmp_path, accumulate=2))
    _assert_same(whole, parts)


def test_batch_split_and_precision_errors(tmp_path):
    assert split_batch(32, 4, 2) == 4
    with pytest.raises(LatentStudioError, match="multiple of processes × accumulate = 2 × 3 = 6"):
        split_batch(8, 2, 3)
    with pytest.raises(LatentStudioError, match="accumulate"):
        TrainConfig(data="x", out="y", kimg=1, accumulate=0)
    assert resolve_precision(None, torch.device("cpu")) in ("no", os.environ.get("ACCELERATE_MIXED_PRECISION", "no"))
    assert resolve_precision(None, torch.device("cuda")) == os.environ.get("ACCELERATE_MIXED_PRECISION", "bf16")
    with pytest.raises(LatentStudioError, match="fp16 would need loss scaling"):
        resolve_precision("fp16", torch.device("cpu"))
    _, ddpm_cfg = _configs(tmp_path, mixed_precision="bf16")  # bf16 autocast through accelerate, here on the CPU
    trainer = DiffusionTrainer(DiffusionTrainConfig(**ddpm_cfg), images=_images()["ddpm"])
    assert trainer.accelerator.mixed_precision == "bf16" and all(v == v for v in trainer.step().values())
    _, ddpm_cfg = _configs(tmp_path)  # and the next trainer in this process is back to fp32
    assert DiffusionTrainer(DiffusionTrainConfig(**ddpm_cfg), images=_images()["ddpm"]).accelerator.mixed_precision == "no"
