"""DDIM inversion and class translation: the maths, the round trip, the engine, the CLI and bad input."""
from __future__ import annotations

import json

import pytest
import torch
from diffusers import DDIMScheduler

from engines import imaging
from engines.base import LatentStudioError
from engines.cli.main import main
from engines.diffusion.engine import DiffusionEngine
from engines.diffusion.pixel_pipeline import ClassConditionalPixelPipeline, to_epsilon
from engines.diffusion.tiny import tiny_pixel_pipeline
from conftest import guide_image


def _ddim(pipe: ClassConditionalPixelPipeline) -> ClassConditionalPixelPipeline:
    pipe.set_progress_bar_config(disable=True)
    return ClassConditionalPixelPipeline(**{**pipe.components, "scheduler": DDIMScheduler.from_config(
        pipe.scheduler.config)}, class_names=pipe.classes)


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(4 / ((a - b) ** 2).mean()))


@pytest.mark.parametrize("kind", ["epsilon", "v_prediction", "sample"])
def test_model_outputs_become_the_noise_they_imply(kind):
    """x_t = √ᾱ·x0 + √(1−ᾱ)·ε; each prediction type's target for that x_t must give back ε."""
    s = DDIMScheduler(prediction_type=kind)
    gen = torch.Generator().manual_seed(0)
    x0, eps = torch.randn(2, 3, 4, 4, generator=gen), torch.randn(2, 3, 4, 4, generator=gen)
    t = 400
    a = s.alphas_cumprod[t]
    xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
    target = {"epsilon": eps, "v_prediction": a.sqrt() * eps - (1 - a).sqrt() * x0, "sample": x0}[kind]
    assert torch.allclose(to_epsilon(s, target, xt, t), eps, atol=1e-4)


def test_inversion_round_trip_on_the_shipped_model_and_refinement_helps():
    """Invert a real cat (the default DDPM, 20 steps, depth 0.5) and regenerate it: the photo comes back, closer
    with the fixed-point refinement; regenerating under guidance 3 with the source class as the negative gives the
    same image as guidance 1 (negative-class inversion)."""
    engine = DiffusionEngine("default", device="cpu")
    pipe = _ddim(engine.backend.pipe)
    x = imaging.to_tensor(imaging.load_image("assets/examples/photos/stylegan2_seed8.png").resize((64, 64)))
    got = {}
    for k in (0, 2):
        inv = pipe.invert(x, strength=0.5, num_inference_steps=20, class_labels="cat", fixed_point_iterations=k)
        assert inv.timesteps == sorted(inv.timesteps) and len(inv.timesteps) == 10
        out = pipe(latents=inv.latents, strength=0.5, num_inference_steps=20, class_labels="cat", guidance_scale=1.0,
                   output_type="pt").images
        got[k] = _psnr(out, x)
    assert got[2] > got[0] and got[2] >= 30
    guided = pipe(latents=inv.latents, strength=0.5, num_inference_steps=20, class_labels="cat", guidance_scale=3.0,
                  negative_class_labels="cat", output_type="pt").images
    assert _psnr(guided, x) == pytest.approx(got[2], abs=0.01)


def test_translate_returns_the_input_and_a_measured_result(tmp_path):
    engine = DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu")
    photo = guide_image(size=(40, 30))
    calls = []
    r = engine.translate(photo, class_name="grumpy cat", strength=0.5, steps=6, refine=1,
                         progress=lambda i, n, _: calls.append((i, n)))
    assert [im.size for im in r.images] == [(16, 16), (16, 16)]
    for key in ("psnr", "ssim", "layout_ssim", "cat_face", "holds_face"):
        assert len(r.metrics[key]) == 1
    assert r.options["source_class"] == "cat" and r.options["class_name"] == "grumpy cat"
    assert r.options["inversion_steps"] == r.options["denoise_steps"] == 3 and r.options["cfg"]
    assert calls[-1] == (6, 6) and len(calls) == 6
    default = engine.translate(photo, strength=0.5, steps=6, refine=0)
    assert default.options["class_name"] == "grumpy cat"  # the first class other than the source


def test_translate_refuses_bad_input_with_clear_errors():
    engine = DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu")
    photo = guide_image()
    with pytest.raises(LatentStudioError, match="Unknown target class 'dog'"):
        engine.translate(photo, class_name="dog")
    with pytest.raises(LatentStudioError, match="Depth must be between"):
        engine.translate(photo, strength=0.0)
    with pytest.raises(LatentStudioError, match="Unknown translate option"):
        engine.translate(photo, strenght=0.5)
    with pytest.raises(LatentStudioError, match="needs a photo"):
        engine.translate(None)


def test_cli_translate_writes_input_result_and_metrics(tmp_path, tiny_pixel_dir):
    photo = tmp_path / "cat.png"
    guide_image(size=(24, 24)).save(photo)
    out = tmp_path / "out"
    assert main(["translate", str(photo), "--model", str(tiny_pixel_dir), "--class", "grumpy cat", "--depth", "0.5",
                 "--steps", "6", "--guidance", "2", "--refine", "0", "--device", "cpu", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["input.png", "metrics.json", "result.png"]
    data = json.loads((out / "metrics.json").read_text())
    assert data["options"]["class_name"] == "grumpy cat" and data["options"]["guidance"] == 2.0
    assert "layout_ssim" in data["metrics"]
    assert main(["translate", str(photo), "--model", str(tiny_pixel_dir), "--depth", "1.5", "--out", str(out)]) == 2


def test_stable_diffusion_inverts_and_translates_prompt_to_prompt(tiny_sd_dir):
    """On the tiny Stable Diffusion: regenerating an inversion under its own prompt gives the same image whatever the
    guidance (the source prompt is the negative prompt); another prompt changes it; the engine runs it end to end."""
    from engines.diffusion.sd_translate import StableDiffusionTranslatePipeline
    engine = DiffusionEngine(str(tiny_sd_dir), device="cpu")
    pipe = StableDiffusionTranslatePipeline(**engine.backend.img2img.components, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    x = imaging.to_tensor(guide_image(size=(engine.resolution,) * 2))
    inv = pipe.invert(x, "a cat", strength=0.5, num_inference_steps=8, fixed_point_iterations=1)
    assert len(inv.timesteps) == 4 and inv.timesteps == sorted(inv.timesteps)
    plain = pipe.regenerate(inv.latents, "a cat", None, 0.5, 8, guidance_scale=1.0)
    guided = pipe.regenerate(inv.latents, "a cat", "a cat", 0.5, 8, guidance_scale=5.0)
    other = pipe.regenerate(inv.latents, "a grumpy dog", "a cat", 0.5, 8, guidance_scale=5.0)
    assert torch.allclose(plain, guided, atol=1e-4) and not torch.allclose(plain, other, atol=1e-2)
    r = engine.translate(guide_image(), class_name="a grumpy cat", source_class="a cat", strength=0.5, steps=8,
                         refine=0)
    assert r.images[1].size == (engine.resolution,) * 2 and r.options["negative_prompt"] == "a cat"
    with pytest.raises(LatentStudioError, match="prompt → prompt"):
        engine.translate(guide_image())
