"""SDEdit on our pixel-space model, through the real engine: noise levels, guidance, masks, seeds, progress."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import Cancelled, LatentStudioError
from engines.diffusion import DiffusionEngine, make_scheduler
from engines.diffusion.pixel_pipeline import ClassConditionalPixelPipeline, guided_model_output
from conftest import guide_image, pixel_engine
from engines.diffusion.tiny import tiny_pixel_pipeline


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img, dtype=np.int16)


@pytest.fixture(scope="module")
def engine() -> DiffusionEngine:
    return pixel_engine()


def test_same_seed_same_output_other_seed_differs(engine):
    g = guide_image()
    a = engine.from_guide(g, seed=5, steps=8, strength=0.6, scheduler="ddpm")
    b = engine.from_guide(g, seed=5, steps=8, strength=0.6, scheduler="ddpm")
    c = engine.from_guide(g, seed=6, steps=8, strength=0.6, scheduler="ddpm")
    assert np.array_equal(arr(a.images[0]), arr(b.images[0]))
    assert not np.array_equal(arr(a.images[0]), arr(c.images[0]))
    assert a.images[0].mode == "RGB" and a.images[0].size == (16, 16)


def test_strength_zero_returns_the_guide(engine):
    g = guide_image()
    expected = arr(g.crop((2, 0, 18, 16)))  # 20x16 -> centre 16x16 crop, already the model's size
    for kwargs in ({"strength": 0.0}, {"t0": 0}):
        result = engine.from_guide(g, seed=0, **kwargs)
        assert np.array_equal(arr(result.images[0]), expected)
        assert result.metrics["l2"] == [0.0] and result.options["denoise_steps"] == 0


def test_strength_one_does_not_depend_on_the_guide(engine):
    a = engine.from_guide(guide_image(1), seed=2, steps=5, strength=1.0)
    b = engine.from_guide(Image.new("RGB", (40, 40), (255, 0, 0)), seed=2, steps=5, strength=1.0)
    assert np.array_equal(arr(a.images[0]), arr(b.images[0]))
    assert a.options["t_start"] == 999  # "trailing" spacing: strength 1 starts at T - 1


def test_lower_strength_stays_closer_to_the_guide(engine):
    g = guide_image()
    low = engine.from_guide(g, seed=0, steps=20, strength=0.1, n=4)
    high = engine.from_guide(g, seed=0, steps=20, strength=0.9, n=4)
    assert np.mean(low.metrics["l2"]) < np.mean(high.metrics["l2"])


def test_t0_is_strength_in_timesteps_and_steps_are_respected(engine):
    g = guide_image()
    calls = []
    hook = engine.backend.pipe.unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        by_t0 = engine.from_guide(g, seed=1, steps=10, t0=600, guidance=1.0)
    finally:
        hook.remove()
    by_strength = engine.from_guide(g, seed=1, steps=10, strength=0.6, guidance=1.0)
    assert np.array_equal(arr(by_t0.images[0]), arr(by_strength.images[0]))
    assert by_t0.options["denoise_steps"] == 6 and by_t0.options["t_start"] == 599
    assert calls == [1] * 6  # one UNet call per denoising step, batch 1: no unconditional half at w = 1
    assert engine.from_guide(g, seed=1, steps=50, t0=290, guidance=1.0).options["denoise_steps"] == 14


def test_guided_model_output_is_classifier_free_guidance():
    pipe = tiny_pixel_pipeline()
    unet = pipe.unet
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    t = torch.tensor(500)
    with torch.no_grad():
        cond = unet(x, t, class_labels=torch.tensor([0, 1])).sample
        uncond = unet(x, t, class_labels=torch.tensor([2, 2])).sample
        batches = []
        hook = unet.register_forward_hook(lambda m, i, o: batches.append(i[0].shape[0]))
        labels = torch.tensor([0, 1])
        w1 = guided_model_output(unet, x, t, labels, 2, 1.0)
        w0 = guided_model_output(unet, x, t, labels, 2, 0.0)
        w3 = guided_model_output(unet, x, t, labels, 2, 3.0)
        hook.remove()
    assert batches == [2, 4, 4]  # w = 1 skips the unconditional half; otherwise both halves in one batch
    assert torch.equal(w1, cond)
    torch.testing.assert_close(w0, uncond, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w3, uncond + 3.0 * (cond - uncond), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(cond, uncond, atol=1e-3)  # the class embedding matters


def test_guidance_and_class_change_the_result(engine):
    g = guide_image()
    base = engine.from_guide(g, seed=0, steps=6, strength=0.8, guidance=1.0)
    guided = engine.from_guide(g, seed=0, steps=6, strength=0.8, guidance=5.0)
    other = engine.from_guide(g, seed=0, steps=6, strength=0.8, guidance=1.0, class_name="grumpy cat")
    assert base.options["cfg"] is False and guided.options["cfg"] is True
    assert not np.array_equal(arr(base.images[0]), arr(guided.images[0]))
    assert not np.array_equal(arr(base.images[0]), arr(other.images[0]))
    assert engine.from_guide(g, seed=0, steps=6).options["guidance"] == 3.0  # our default


def _draws(generators) -> list[torch.Tensor]:
    return [g.get_state() for g in generators]


@pytest.mark.parametrize("name,eta,draws_during_loop", [("ddim", 0.0, False), ("ddim", 0.5, True),
                                                         ("ddpm", 0.0, True)])
def test_ddim_eta_zero_is_deterministic(name, eta, draws_during_loop):
    """DDIM with eta 0 draws no noise after the initial sample; eta > 0 and DDPM do."""
    pipe = tiny_pixel_pipeline()
    guide = torch.zeros(1, 3, 16, 16)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    ref = [torch.Generator().manual_seed(i) for i in range(2)]
    for g in ref:  # what the initial noise alone consumes
        torch.randn((1, 3, 16, 16), generator=g)
    pipe = ClassConditionalPixelPipeline(**{**pipe.components, "scheduler": make_scheduler(name, pipe.scheduler.config)},
                                         class_names=pipe.classes)
    pipe(image=guide, class_labels="cat", guidance_scale=2.0, num_inference_steps=5, strength=0.8, generator=gens,
         eta=eta, output_type="pt")
    same = all(torch.equal(a, b) for a, b in zip(_draws(gens), _draws(ref)))
    assert same != draws_during_loop


def test_mask_keeps_the_guide_outside(engine):
    g = guide_image(size=(16, 16))
    mask = np.zeros((16, 16), np.float32)
    mask[4:12, 3:10] = 1.0
    for scheduler in ("ddpm", "ddim", "euler"):
        result = engine.from_guide(g, mask, seed=0, steps=6, strength=0.9, scheduler=scheduler, n=2)
        for img in result.images:
            out = arr(img)
            assert np.array_equal(out[mask == 0], arr(g)[mask == 0])
            assert not np.array_equal(out[mask == 1], arr(g)[mask == 1])
        assert result.metrics["masked_l2"][0] > 0 and result.metrics["l2"][0] < result.metrics["masked_l2"][0]
        assert result.options["masked"] is True


def test_mask_auto_comes_from_the_strokes(engine):
    sketch = np.full((16, 16, 3), 255, np.uint8)
    sketch[5:11, 5:11] = (200, 30, 30)
    result = engine.from_guide(sketch, "auto", seed=0, steps=4, strength=0.7)
    out = arr(result.images[0])
    assert (out[:4] == 255).all() and not np.array_equal(out[5:11, 5:11], sketch[5:11, 5:11])


def test_n_samples_each_with_its_own_seed(engine):
    g = guide_image()
    many = engine.from_guide(g, seed=10, steps=5, strength=0.7, n=3, scheduler="ddpm")
    assert len(many.images) == 3 and many.options["seeds"] == [10, 11, 12]
    for i in (0, 2):
        one = engine.from_guide(g, seed=10 + i, steps=5, strength=0.7, n=1, scheduler="ddpm")
        assert np.abs(arr(one.images[0]) - arr(many.images[i])).max() <= 1
    assert not np.array_equal(arr(many.images[0]), arr(many.images[1]))
    assert len(many.metrics["l2"]) == 3


def test_progress_sees_every_step_and_previews(engine):
    seen = []
    result = engine.from_guide(guide_image(), seed=0, steps=10, strength=0.5, frames=3,
                               progress=lambda s, total, img: seen.append((s, total, img)))
    assert [s for s, _, _ in seen] == [1, 2, 3, 4, 5] and all(total == 5 for _, total, _ in seen)
    previews = [img for _, _, img in seen if img is not None]
    assert len(previews) == 3 and all(p.size == (16, 16) for p in previews)
    assert len(result.frames) == 5  # guide, 3 x0 previews, final image
    assert result.frames[-1] is result.images[0]


def test_cancel_from_progress(engine):
    def stop(step, total, preview):
        if step == 2:
            raise Cancelled("stopped")
    with pytest.raises(Cancelled):
        engine.from_guide(guide_image(), seed=0, steps=10, strength=0.5, progress=stop)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmsolver++", "euler", "euler_a", "pndm", "heun"])
def test_every_scheduler_runs(engine, name):
    result = engine.from_guide(guide_image(), seed=0, steps=6, strength=0.8, scheduler=name, frames=2)
    assert result.options["scheduler"] == name and np.isfinite(result.metrics["l2"][0])
    assert len(result.frames) == 4 and result.timings["per_step_ms"] > 0


def test_sample_from_noise(engine):
    a = engine.sample(2, seed=4, steps=4, class_name="grumpy cat")
    b = engine.sample(1, seed=5, steps=4, class_name="grumpy cat")
    assert len(a) == 2 and a[0].size == (16, 16)
    assert np.abs(arr(a[1]) - arr(b[0])).max() <= 1


def test_describe_and_properties(engine):
    d = engine.describe()
    assert d.resolution == 16 and "cat" in d.conditioning and d.parameters > 0 and d.notes == ""
    assert engine.classes == ["cat", "grumpy cat"] and engine.kind == "pixel"
    assert "dpmsolver++" in engine.schedulers


@pytest.mark.parametrize("kwargs,message", [
    ({"strength": 1.5}, "Strength must be between 0.0 and 1.0"),
    ({"strength": -0.1}, "Strength must be between"),
    ({"steps": 0}, "Steps must be between 1 and 1000"),
    ({"steps": 1001}, "Steps must be between"),
    ({"steps": 2.5}, "Steps must be a whole number"),
    ({"scheduler": "magic"}, "Unknown scheduler 'magic': use one of ddpm, ddim, dpmsolver++, euler"),
    ({"class_name": "dog"}, "Unknown class 'dog': this model knows 'cat', 'grumpy cat'"),
    ({"prompt": "a cat"}, "takes no text prompt: use a class name instead (cat, grumpy cat)"),
    ({"guidance": 51}, "Guidance scale must be between 0.0 and 50.0"),
    ({"eta": 0.5, "scheduler": "ddpm"}, "eta only applies to the ddim scheduler"),
    ({"eta": 2.0}, "eta must be between 0.0 and 1.0"),
    ({"n": 17}, "Number of samples (n) must be between 1 and 16"),
    ({"t0": 1001}, "t0 (timesteps of 1000) must be between 0 and 1000"),
    ({"t0": 500, "strength": 0.5}, "not both"),
    ({"strength": 0.05, "steps": 10}, "runs no denoising step"),
    ({"seed": -1}, "Seed must be in"),
    ({"seed": "x"}, "Seed must be an integer"),
    ({"strength": "high"}, "Strength must be a number"),
])
def test_bad_options_are_clear_errors(engine, kwargs, message):
    kwargs = {"seed": 0, **kwargs}
    with pytest.raises(LatentStudioError) as exc:
        engine.from_guide(guide_image(), **kwargs)
    assert message in str(exc.value)


def test_bad_guides_and_masks(engine, tmp_path):
    with pytest.raises(LatentStudioError, match="needs a guide"):
        engine.from_guide(None, seed=0)
    with pytest.raises(LatentStudioError, match="No such image file"):
        engine.from_guide(tmp_path / "missing.png", seed=0)
    with pytest.raises(LatentStudioError, match="mask is empty"):
        engine.from_guide(guide_image(size=(16, 16)), np.zeros((16, 16), np.float32), seed=0)
    with pytest.raises(LatentStudioError, match="must have the same shape"):
        engine.from_guide(guide_image(size=(16, 16)), np.ones((10, 30), np.float32), seed=0)
    with pytest.raises(LatentStudioError, match="works at 16×16 only"):
        DiffusionEngine("memory", device="cpu", resolution=32, backend=engine.backend)


def test_lms_runs_or_says_it_needs_scipy(engine):
    import importlib.util
    if importlib.util.find_spec("scipy") is None:
        with pytest.raises(LatentStudioError, match="needs scipy"):
            engine.from_guide(guide_image(), seed=0, steps=4, scheduler="lms")
    else:
        assert engine.from_guide(guide_image(), seed=0, steps=4, scheduler="lms").options["scheduler"] == "lms"
