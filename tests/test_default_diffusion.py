"""The shipped default diffusion model (weights/ddpm-cats64): a diffusers folder of fp16 safetensors with a
model card, loadable by diffusers and by our engine, and trained (its samples are images, not noise)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engines.base import LatentStudioError
from engines.diffusion.engine import DiffusionEngine
from engines.diffusion.pixel_pipeline import ClassConditionalPixelPipeline
from engines.sources import default_path

FOLDER = default_path("diffusion")


def test_the_folder_is_diffusers_layout_in_fp16_with_a_card():
    index = json.loads((FOLDER / "model_index.json").read_text())
    assert index["_class_name"] == "ClassConditionalPixelPipeline" and index["class_names"] == ["cat", "grumpy cat"]
    weights = FOLDER / "unet" / "diffusion_pytorch_model.safetensors"
    from safetensors import safe_open
    with safe_open(str(weights), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert weights.stat().st_size < 40e6
    card = (FOLDER / "README.md").read_text()
    for section in ("## Data", "## Training", "## Evaluation", "## Limitations"):
        assert section in card


def test_plain_diffusers_loads_the_components():
    from diffusers import DDPMScheduler, UNet2DModel
    unet = UNet2DModel.from_pretrained(str(FOLDER), subfolder="unet")
    scheduler = DDPMScheduler.from_pretrained(str(FOLDER), subfolder="scheduler")
    assert unet.config.num_class_embeds == 3 and unet.config.sample_size == 64
    assert scheduler.config.prediction_type == "v_prediction" and scheduler.config.num_train_timesteps == 1000
    pipe = ClassConditionalPixelPipeline.from_pretrained(str(FOLDER))
    assert pipe.classes == ["cat", "grumpy cat"]


@pytest.fixture(scope="module")
def engine():
    return DiffusionEngine("default", device="cpu")


def test_default_is_trained_and_says_what_it_is(engine):
    d = engine.describe()
    assert d.notes and d.resolution == 64
    assert engine.classes == ["cat", "grumpy cat"] and 1e6 < d.parameters < 20e6 and engine.card


def smoothness(images) -> float:
    """Mean |difference| of neighbouring pixels in [0, 1] units: about 0.33 for noise, < 0.1 for photos."""
    a = np.stack([np.asarray(im, dtype=np.float32) / 255 for im in images])
    return float(np.abs(np.diff(a, axis=1)).mean() + np.abs(np.diff(a, axis=2)).mean()) / 2


def test_samples_are_images_not_noise_and_a_seed_reproduces(engine):
    images = engine.sample(2, seed=0, steps=10, class_name="grumpy cat")
    again = engine.sample(2, seed=0, steps=10, class_name="grumpy cat")
    assert [im.size for im in images] == [(64, 64)] * 2
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(images, again))
    assert smoothness(images) < 0.12
    spread = np.std([np.asarray(im, dtype=np.float32).mean() for im in engine.sample(4, seed=10, steps=10)])
    assert spread > 2                                   # different seeds give different cats


def test_missing_default_weights_are_a_clear_error(monkeypatch, tmp_path):
    import engines.diffusion.loading as loading
    monkeypatch.setattr(loading, "default_path", lambda kind: Path(tmp_path) / "missing")
    with pytest.raises(LatentStudioError, match="default diffusion weights are missing"):
        DiffusionEngine("default", device="cpu")
