"""Pivotal tuning: the tuned copy reproduces the photo better, the loaded model is untouched, edits go through it."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engines.cli.main import main
from engines.stylegan import editing
from engines.stylegan.checkpoints import save_gan


def _photo(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray((rng.random((4, 4, 3)) * 255).astype(np.uint8)).resize((32, 32), Image.BICUBIC)
    return Image.fromarray(np.clip(np.asarray(coarse, float) + rng.normal(0, 12, (32, 32, 3)), 0, 255).astype(np.uint8))


def test_tuning_raises_psnr_and_leaves_the_model_alone(tiny_engine):
    before = {k: v.clone() for k, v in tiny_engine.G.state_dict().items()}
    plain = tiny_engine.invert([_photo()], steps=20, perceptual="none")
    tuned = tiny_engine.invert([_photo()], steps=20, perceptual="none", pti_steps=60)
    assert tuned.metrics["psnr_pivot"] == plain.metrics["psnr"]
    assert tuned.metrics["psnr"][0] > plain.metrics["psnr"][0] + 1.0
    assert all(torch.equal(v, tiny_engine.G.state_dict()[k]) for k, v in before.items())
    assert tuned.options["pti_steps"] == 60 and tuned.timings["pti"] > 0


def test_edits_of_a_tuned_photo_start_from_the_tuned_image(tiny_engine):
    d = tiny_engine.directions("ganspace", k=1, n_samples=200)[0]
    plain = editing.edit(tiny_engine, _photo(), d, [0.0], invert_options={"steps": 10, "perceptual": "none"})
    tuned = editing.edit(tiny_engine, _photo(), d, [0.0, 2.0], invert_options={"steps": 10, "perceptual": "none"},
                         pti_steps=60)
    target = np.asarray(_photo(), dtype=np.float32)
    err = lambda im: np.abs(np.asarray(im, dtype=np.float32) - target).mean()  # noqa: E731
    assert err(tuned.images[0]) < err(plain.images[0]) and tuned.metrics["pixel_change"][1] > 0


def test_cli_invert_pti(tmp_path, tiny_g, tiny_d):
    save_gan(tmp_path / "m", tiny_g, tiny_d)
    _photo().save(tmp_path / "p.png")
    assert main(["invert", str(tmp_path / "p.png"), "--model", str(tmp_path / "m"), "--steps", "5", "--pti", "10",
                 "--out", str(tmp_path / "o")]) == 0
    assert main(["invert", str(tmp_path / "p.png"), "--model", str(tmp_path / "m"), "--pti", "-1",
                 "--out", str(tmp_path / "o")]) == 2


def test_after_tuning_every_figure_of_the_images_is_the_tuned_ones(tiny_engine):
    """Issue 32, item 2: no before-tuning figure is reported beside after-tuning ones as if one result's."""
    from engines import imaging
    from engines.evaluation.faithfulness import reconstruction
    from engines.evaluation.realism import PatchRealism
    plain = tiny_engine.invert([_photo()], steps=20)
    tuned = tiny_engine.invert([_photo()], steps=20, pti_steps=40)
    shown = imaging.to_tensor(tuned.images)
    target = tiny_engine.targets([_photo()])
    assert tuned.metrics["ssim"] == pytest.approx(reconstruction(shown, target)["ssim"], abs=1e-3)
    realism = PatchRealism.default()
    if realism is not None:
        assert tuned.metrics["realism"] == pytest.approx(realism.score(shown).tolist(), abs=1e-3)
    assert "perceptual" not in tuned.metrics and tuned.metrics["pivot"]["perceptual"] == plain.metrics["perceptual"]
    assert {k: tuned.metrics["pivot"][k] for k in ("psnr", "ssim", "l2")} == {k: plain.metrics[k] for k in ("psnr", "ssim", "l2")}


def test_the_photo_cache_bounds_its_tuned_generators_and_keeps_the_newest(tiny_engine, monkeypatch):
    """Issue 32, item 7: the tuned copies Edit keeps are bounded by their weights' bytes (the newest always stays),
    and the cache is guarded by a lock (the app may run jobs concurrently)."""
    import threading
    size = editing._weights_bytes(tiny_engine)
    monkeypatch.setattr(editing, "TUNED_CACHE_BYTES", int(2.5 * size))       # room for two tuned copies
    opts = {"steps": 2, "perceptual": "none"}
    for seed in range(4):
        editing.prepare_photo(tiny_engine, _photo(seed), opts, False, 5)
    kept = list(tiny_engine.cache.photo_inversions.values())
    assert len(kept) == 2 and all(p.engine is not tiny_engine for p in kept)
    plain, cached = editing.prepare_photo(tiny_engine, _photo(9), opts, False, 0)    # untuned: costs no copy
    assert not cached and len(tiny_engine.cache.photo_inversions) == 3
    assert editing.prepare_photo(tiny_engine, _photo(9), opts, False, 0) == (plain, True)
    assert isinstance(tiny_engine.cache.photo_lock, type(threading.Lock()))


def test_pti_steps_have_one_limit_everywhere(tiny_engine):
    """The engine, the CLI flag and the app's sliders take the PTI steps' range from one place (`PhotoOptions`)."""
    from engines.base import LatentStudioError
    from engines.stylegan.options import PhotoOptions
    limit = PhotoOptions.limit("pti_steps")
    with pytest.raises(LatentStudioError, match=f"PTI steps must be between 0 and {int(limit.max)}"):
        tiny_engine.invert([_photo()], steps=2, perceptual="none", pti_steps=int(limit.max) + 1)
    import demo.common as common
    import gradio as gr
    with gr.Blocks():
        slider = common.pti_slider()
    assert (slider.minimum, slider.maximum) == (limit.min, limit.max)
