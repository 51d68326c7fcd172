"""Stable Diffusion through the engine: a tiny SD saved to disk, loaded by the real path, run by diffusers."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import LatentStudioError
from engines.diffusion import DiffusionEngine, make_scheduler
from conftest import guide_image


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


def test_loads_and_describes(sd_engine):
    d = sd_engine.describe()
    assert sd_engine.kind == "stable-diffusion" and d.resolution == 32  # native: sample_size 16 × VAE factor 2
    assert d.conditioning.startswith("text") and d.dtype == "float32" and d.parameters > 0
    assert sd_engine.classes == []


def test_same_as_calling_diffusers_img2img_directly(sd_engine):
    """The engine is a thin adapter: same arguments → the very same pixels as the stock pipeline."""
    from diffusers import StableDiffusionImg2ImgPipeline
    guide = guide_image(size=(32, 32))
    ours = sd_engine.from_guide(guide, seed=3, steps=10, strength=0.6, guidance=7.5, prompt="a cat",
                                scheduler="euler", frames=0)
    pipe = StableDiffusionImg2ImgPipeline(**sd_engine.backend.img2img.components)
    pipe.scheduler = make_scheduler("euler", sd_engine.backend.scheduler_config)
    pipe.set_progress_bar_config(disable=True)
    stock = pipe(prompt="a cat", image=guide, strength=0.6, num_inference_steps=10, guidance_scale=7.5,
                 generator=[torch.Generator().manual_seed(3)]).images[0]
    assert np.array_equal(arr(ours.images[0]), arr(stock))
    assert ours.options["pipeline"] == "StableDiffusionImg2ImgPipeline" and ours.options["cfg"] is True


def test_seed_reproduces_and_strength_steps_respected(sd_engine):
    g = guide_image(size=(40, 32))
    calls = []
    hook = sd_engine.backend.img2img.unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        a = sd_engine.from_guide(g, seed=1, steps=10, strength=0.5, prompt="a dog")
    finally:
        hook.remove()
    b = sd_engine.from_guide(g, seed=1, steps=10, strength=0.5, prompt="a dog")
    c = sd_engine.from_guide(g, seed=2, steps=10, strength=0.5, prompt="a dog")
    assert np.array_equal(arr(a.images[0]), arr(b.images[0]))
    assert not np.array_equal(arr(a.images[0]), arr(c.images[0]))
    assert a.options["denoise_steps"] == 5 and calls == [2] * 5  # CFG: both halves in one batch
    assert a.images[0].size == (32, 32) and a.options["resolution"] == 32
    assert sd_engine.from_guide(g, seed=1, steps=20, t0=300).options["denoise_steps"] == 6


def test_strength_zero_and_one(sd_engine):
    g = guide_image(size=(32, 32))
    same = sd_engine.from_guide(g, seed=0, strength=0.0)
    assert np.array_equal(arr(same.images[0]), arr(g))
    a = sd_engine.from_guide(g, seed=0, steps=4, strength=1.0, prompt="a cat")
    b = sd_engine.from_guide(Image.new("RGB", (32, 32), "white"), seed=0, steps=4, strength=1.0, prompt="a cat")
    assert np.array_equal(arr(a.images[0]), arr(b.images[0]))
    assert a.options["pipeline"] == "StableDiffusionPipeline"


def test_guidance_at_most_one_skips_the_unconditional_half(sd_engine):
    calls = []
    hook = sd_engine.backend.img2img.unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        result = sd_engine.from_guide(guide_image(), seed=0, steps=4, strength=0.5, guidance=1.0, prompt="a cat")
    finally:
        hook.remove()
    assert calls == [1, 1] and result.options["cfg"] is False


def test_mask_uses_inpaint_pipeline_and_keeps_the_guide(sd_engine):
    g = guide_image(size=(32, 32))
    mask = np.zeros((32, 32), np.float32)
    mask[8:24, 8:20] = 1.0
    result = sd_engine.from_guide(g, mask, seed=0, steps=6, strength=0.8, prompt="a cat", n=2)
    assert result.options["pipeline"] == "StableDiffusionInpaintPipeline"
    for img in result.images:
        assert np.array_equal(arr(img)[mask == 0], arr(g)[mask == 0])
        assert not np.array_equal(arr(img)[mask == 1], arr(g)[mask == 1])
    assert result.metrics["masked_l2"][0] > 0


def test_progress_previews_and_frames(sd_engine):
    seen = []
    result = sd_engine.from_guide(guide_image(), seed=0, steps=10, strength=0.6, frames=2, scheduler="ddim",
                                  progress=lambda s, t, img: seen.append((s, t, img)))
    assert [s for s, _, _ in seen] == list(range(1, 7)) and {t for _, t, _ in seen} == {6}
    assert sum(img is not None for _, _, img in seen) == 2 and len(result.frames) == 4


def test_n_samples_per_seed_and_schedulers(sd_engine):
    g = guide_image()
    many = sd_engine.from_guide(g, seed=7, steps=6, strength=0.7, n=2, scheduler="ddpm", prompt="a cat")
    one = sd_engine.from_guide(g, seed=8, steps=6, strength=0.7, n=1, scheduler="ddpm", prompt="a cat")
    assert np.abs(arr(many.images[1]) - arr(one.images[0])).max() <= 2
    for name in ("dpmsolver++", "euler_a", "heun"):
        r = sd_engine.from_guide(g, seed=0, steps=4, strength=0.5, scheduler=name)
        assert r.options["scheduler"] == name and np.isfinite(r.metrics["l2"][0])


def test_sample_is_text2img(sd_engine):
    images = sd_engine.sample(2, seed=0, steps=3, prompt="a cat")
    assert len(images) == 2 and images[0].size == (32, 32)
    again = sd_engine.sample(1, seed=0, steps=3, prompt="a cat")
    assert np.array_equal(arr(images[0]), arr(again[0]))


def test_text_model_errors(sd_engine):
    with pytest.raises(LatentStudioError, match="conditioned on text, not classes"):
        sd_engine.from_guide(guide_image(), seed=0, class_name="cat")
    with pytest.raises(LatentStudioError, match="negative prompt only acts through classifier-free guidance"):
        sd_engine.from_guide(guide_image(), seed=0, guidance=1.0, negative_prompt="blurry")
    with pytest.raises(LatentStudioError, match="needs a CUDA device"):
        DiffusionEngine(str(sd_engine.source), device="cpu", cpu_offload=True)


def test_resolution_option(tiny_sd_dir):
    engine = DiffusionEngine(str(tiny_sd_dir), device="cpu", resolution=48)
    result = engine.from_guide(guide_image(), seed=0, steps=2, strength=0.5)
    assert result.images[0].size == (48, 48)
    with pytest.raises(LatentStudioError, match="multiple of 8"):
        DiffusionEngine(str(tiny_sd_dir), device="cpu", resolution=50)


def test_stochastic_schedulers_draw_from_the_job_seed(sd_engine):
    """DDPM / Euler-a noise comes from our per-sample generators, never from torch's global RNG."""
    g = guide_image()
    for name in ("ddpm", "euler_a"):
        torch.manual_seed(1)
        a = sd_engine.from_guide(g, seed=4, steps=4, strength=0.8, scheduler=name)
        torch.manual_seed(2)
        b = sd_engine.from_guide(g, seed=4, steps=4, strength=0.8, scheduler=name)
        assert np.array_equal(arr(a.images[0]), arr(b.images[0])), name
