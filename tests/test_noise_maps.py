"""Inversion that fits StyleGAN2's noise maps: they travel with the latent (Result, .npz), and whatever renders that
latent again (reload, Edit, Interpolate, PTI) renders the same detail."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.base import LatentStudioError
from engines.stylegan.latents import save_latents


@pytest.fixture
def target(tiny_engine):
    return tiny_engine.sample(1, seed=5, noise_mode="random")[0]


def _noise_keys(record):
    return sorted(k for k in record if k.startswith("noise."))


def _invert(engine, target, **kw):
    return engine.invert([target], **{"steps": 25, "perceptual": "none", **kw})


def test_invert_fits_noise_by_default_for_stylegan2_and_it_raises_psnr(tiny_engine, target):
    fitted = _invert(tiny_engine, target, steps=80)
    plain = _invert(tiny_engine, target, steps=80, optimize_noise=False)
    assert fitted.options["optimize_noise"] is True and plain.options["optimize_noise"] is False
    layers = tiny_engine.G.synthesis.noise_layers()
    assert _noise_keys(fitted.latents) == sorted("noise." + k for k in layers)
    for name, layer in layers.items():
        assert fitted.latents["noise." + name].shape == (1, 1, layer.resolution, layer.resolution)
    assert _noise_keys(plain.latents) == []
    assert fitted.metrics["psnr"][0] > plain.metrics["psnr"][0] + 0.5


def test_lbfgs_and_dcgan_do_not_fit_noise_unless_told(tiny_engine, tiny_dcgan_engine, target):
    assert _invert(tiny_engine, target, optimizer="lbfgs", steps=3).options["optimize_noise"] is False
    dc = tiny_dcgan_engine.invert([tiny_dcgan_engine.sample(1, seed=1)[0]], space="z", steps=3, perceptual="none")
    assert dc.options["optimize_noise"] is False and _noise_keys(dc.latents) == []
    with pytest.raises(LatentStudioError, match="needs a StyleGAN2"):
        tiny_dcgan_engine.invert([target], space="z", steps=2, optimize_noise=True)


def test_saved_latent_with_noise_renders_the_reconstruction_exactly(tiny_engine, target, tmp_path):
    res = _invert(tiny_engine, target)
    path = save_latents(tmp_path / "cat.npz", res.latents)
    latent, space = tiny_engine.load_latent(path)
    noise = tiny_engine.load_noise(path, latent.shape[0])
    again = tiny_engine.synthesize(latent, space, noise)[0]
    assert np.array_equal(np.asarray(again), np.asarray(res.images[0]))
    without = tiny_engine.synthesize(latent, space)[0]  # the model's own noise: not the same picture
    assert not np.array_equal(np.asarray(without), np.asarray(res.images[0]))


def test_broken_noise_entries_are_refused_clearly(tiny_engine, target, tmp_path):
    record = dict(_invert(tiny_engine, target, steps=3).latents)
    name = _noise_keys(record)[0]
    cases = {
        "shape": ({name: record[name][..., :-1]}, "must be real numbers of shape"),
        "nan": ({name: np.full_like(record[name], np.nan)}, "NaN or infinite"),
        "unknown": ({"noise.b999.conv0": record[name]}, "layers this model does not have"),
        "text": ({name: np.array("abc")}, "must be real numbers of shape"),
    }
    for case, (change, message) in cases.items():
        path = save_latents(tmp_path / f"{case}.npz", {**record, **change})
        with pytest.raises(LatentStudioError, match=message):
            tiny_engine.load_noise(path, 1)
    missing = {k: v for k, v in record.items() if k != name}
    with pytest.raises(LatentStudioError, match="miss the layers"):
        tiny_engine.load_noise(save_latents(tmp_path / "missing.npz", missing), 1)


def test_edit_keeps_the_photos_noise(tiny_engine, target, tmp_path):
    res = _invert(tiny_engine, target)
    d = torch.zeros(tiny_engine.G.w_dim)
    d[0] = 1.0
    from engines.stylegan.directions import Direction
    direction = Direction(name="d", vector=d.numpy(), space="w", method="test", fingerprint=tiny_engine.fingerprint)
    out = tiny_engine.edit(res.latents, direction, [0.0, 2.0])
    assert np.array_equal(np.asarray(out.images[0]), np.asarray(res.images[0]))  # strength 0 = the reconstruction
    assert _noise_keys(out.latents) == _noise_keys(res.latents)
    assert out.latents[_noise_keys(out.latents)[0]].shape[0] == 2  # one row per strength: each edit reloads exactly
    # from the photo: the cached inversion carries its noise maps too
    photo = tiny_engine.edit(target, direction, [0.0], invert_options={"steps": 25, "perceptual": "none"})
    assert _noise_keys(photo.latents) == _noise_keys(res.latents)


def test_interpolation_ends_on_each_inversion_with_its_noise(tiny_engine, target):
    a = _invert(tiny_engine, target)
    b_target = tiny_engine.sample(1, seed=9, noise_mode="random")[0]
    b = _invert(tiny_engine, b_target, optimize_noise=False)  # no maps of its own: the model's constant noise
    out = tiny_engine.interpolate(a.latents, b.latents, frames=5, crossfade_row=False)
    assert np.array_equal(np.asarray(out.images[0]), np.asarray(a.images[0]))
    assert np.array_equal(np.asarray(out.images[-1]), np.asarray(b.images[0]))
    assert out.latents[_noise_keys(out.latents)[0]].shape[0] == 5
    plain = tiny_engine.interpolate(tiny_engine.latent_record(torch.as_tensor(a.latents["latent"]), "w+"), b.latents,
                                    frames=3, crossfade_row=False)
    assert _noise_keys(plain.latents) == []  # neither end has maps: nothing changes for plain latents


def test_pti_starts_from_the_fitted_noise(tiny_engine, target):
    res = _invert(tiny_engine, target)
    latent = torch.as_tensor(res.latents["latent"])
    noise = tiny_engine.load_noise(res.latents, 1)
    tuned = tiny_engine.tuned_for(target, latent, "w+", steps=1, noise=noise)
    plain = tiny_engine.tuned_for(target, latent, "w+", steps=1)
    # the first PTI loss is the inversion's own pixel error only when the copy starts from the fitted maps
    assert tuned.tuning_curve[0] < plain.tuning_curve[0]
    inv = _invert(tiny_engine, target, pti_steps=5)
    assert inv.metrics["psnr"][0] >= inv.metrics["psnr_pivot"][0] - 0.1


def test_scribble_fits_noise_under_the_strokes_only_when_following_the_lines(tiny_engine, tiny_dcgan_engine, target):
    from engines.stylegan.engine import SCRIBBLE_DEFAULTS, SCRIBBLE_NOISE_FROM
    mask = np.zeros((32, 32), dtype=np.float32)
    mask[8:24, 8:24] = 1.0
    layout = tiny_engine.scribble(target, mask, steps=3, restarts=1)  # the default: the colour layout, latent only
    assert layout.options["follow_lines"] == SCRIBBLE_DEFAULTS["follow_lines"] < SCRIBBLE_NOISE_FROM
    assert layout.options["optimize_noise"] is False and not _noise_keys(layout.latents)
    res = tiny_engine.scribble(target, mask, steps=40, restarts=1, follow_lines=1.0)
    assert res.options["optimize_noise"] is True and res.options["noise_reg"] == SCRIBBLE_DEFAULTS["noise_reg"]
    assert _noise_keys(res.latents)  # saved with the latent like an inversion's
    # the maps give the strokes more to match with (the default's strength is bench.scribble_study's choice)
    loose = tiny_engine.scribble(target, mask, steps=40, restarts=1, noise_reg=1.0, follow_lines=1.0, reg=0.03)
    plain = tiny_engine.scribble(target, mask, steps=40, restarts=1, optimize_noise=False, follow_lines=1.0, reg=0.03)
    assert loose.metrics["masked_l2"][0] < plain.metrics["masked_l2"][0]
    dc = tiny_dcgan_engine.scribble(tiny_dcgan_engine.sample(1, seed=1)[0], mask, steps=3, restarts=1, space="z")
    assert dc.options["optimize_noise"] is False
