"""Latent interpolation: path maths, endpoints, space rules, image inputs (fake inversion) and the CLI."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import LatentStudioError, Result
from engines.stylegan import interpolation as interp
from engines.stylegan.interpolation import crossfade, interpolate, latent_path, lerp, slerp, smoothness
from engines.stylegan.latents import save_latents


def arr(img):
    return np.asarray(img, dtype=np.int16)


def latent_in(engine, space, seed):
    """One latent for ``engine`` in ``space`` ([1, …]), made from a seeded z."""
    z = engine.random_z(1, seed)
    return z if space == "z" else interp.convert_space(engine, z, "z", space)


# ---------------------------------------------------------------------------------------------- maths

def test_slerp_keeps_norms_and_hits_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 64, generator=g), torch.randn(4, 64, generator=g)
    b = b / b.norm(dim=-1, keepdim=True) * a.norm(dim=-1, keepdim=True)  # same sphere per row
    for t in np.linspace(0, 1, 9):
        p = slerp(a, b, float(t))
        assert torch.allclose(p.norm(dim=-1), a.norm(dim=-1), rtol=1e-5)
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5) and torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    # different norms: every point's norm stays between the endpoint norms
    c = 3 * torch.randn(4, 64, generator=g)
    lo, hi = torch.minimum(a.norm(dim=-1), c.norm(dim=-1)), torch.maximum(a.norm(dim=-1), c.norm(dim=-1))
    for t in np.linspace(0, 1, 9):
        n = slerp(a, c, float(t)).norm(dim=-1)
        assert (n >= lo - 1e-4).all() and (n <= hi + 1e-4).all()
    # the midpoint of a lerp sinks inside the sphere; slerp's does not
    assert (lerp(a, b, 0.5).norm(dim=-1) < a.norm(dim=-1) - 1e-3).all()


def test_slerp_parallel_and_antiparallel_fall_back_to_lerp():
    a = torch.randn(2, 16, generator=torch.Generator().manual_seed(1))
    for b in (2.5 * a, -a, torch.zeros_like(a)):
        for t in (0.0, 0.3, 0.5, 1.0):
            p = slerp(a, b, t)
            assert torch.isfinite(p).all()
            assert torch.allclose(p, lerp(a, b, t), atol=1e-5)


@pytest.mark.parametrize("space", ["z", "w", "w+"])
def test_latent_path_endpoints_exact(tiny_engine, space):
    a, b = latent_in(tiny_engine, space, 1)[0], latent_in(tiny_engine, space, 2)[0]
    path = latent_path(a, b, space, 7)
    assert path.shape == (7, *a.shape)
    assert torch.equal(path[0], a) and torch.equal(path[-1], b)
    assert torch.allclose(path[3], (slerp if space == "z" else lerp)(a, b, 0.5), atol=1e-6)


@pytest.mark.parametrize("frames", [1, 0, 241, 2.5, -3])
def test_bad_frame_counts_refused(tiny_engine, frames):
    rec = tiny_engine.latent_record(latent_in(tiny_engine, "w+", 1), "w+")
    with pytest.raises(LatentStudioError, match="Frames"):
        interpolate(tiny_engine, rec, rec, frames=frames)
    with pytest.raises(LatentStudioError, match="Frames"):
        latent_path(torch.zeros(4), torch.ones(4), "w", frames)


def test_crossfade_and_smoothness():
    a, b = Image.new("RGB", (8, 8), (0, 0, 0)), Image.new("RGB", (8, 8), (255, 255, 255))
    row = crossfade(a, b, 6)
    assert len(row) == 6 and np.array_equal(arr(row[0]), arr(a)) and np.array_equal(arr(row[-1]), arr(b))
    s = smoothness(row)
    assert set(s) == {"step_mean", "step_var"}
    assert s["step_mean"] == pytest.approx(0.2, abs=2e-3) and s["step_var"] < 1e-5
    assert smoothness([a, a, a]) == {"step_mean": 0.0, "step_var": 0.0}
    jumpy = smoothness([a, a, b])
    assert jumpy["step_mean"] == pytest.approx(0.5) and jumpy["step_var"] == pytest.approx(0.25)


# ---------------------------------------------------------------------------------------------- engine

@pytest.mark.parametrize("space", ["z", "w", "w+"])
def test_interpolate_all_spaces(tiny_engine, space):
    la, lb = latent_in(tiny_engine, space, 1), latent_in(tiny_engine, space, 2)
    calls = []
    res = interpolate(tiny_engine, tiny_engine.latent_record(la, space), tiny_engine.latent_record(lb, space),
                      space=space, frames=5, progress=lambda i, n, im: calls.append((i, n, im is not None)))
    assert len(res.images) == 5 and len(res.frames) == 5
    assert calls == [(i, 5, True) for i in range(1, 6)]
    path = res.latents["latent"]
    assert path.shape[0] == 5 and str(res.latents["space"]) == space
    assert np.array_equal(path[0], la[0].numpy()) and np.array_equal(path[-1], lb[0].numpy())
    assert np.array_equal(arr(res.images[0]), arr(tiny_engine.synthesize(la, space)[0]))
    assert np.array_equal(arr(res.images[-1]), arr(tiny_engine.synthesize(lb, space)[0]))
    assert np.array_equal(arr(res.frames[0]), arr(res.images[0]))
    assert np.array_equal(arr(res.frames[-1]), arr(res.images[-1]))
    m = res.metrics
    assert m["frames"] == 5 and m["space"] == space and set(m["smoothness"]) == {"step_mean", "step_var"}
    assert m["crossfade_smoothness"]["step_mean"] > 0
    assert res.options["space"] == space and res.options["frames"] == 5 and "render" in res.timings


def test_no_crossfade_row(tiny_engine):
    rec = lambda s: tiny_engine.latent_record(latent_in(tiny_engine, "w", s), "w")
    res = interpolate(tiny_engine, rec(1), rec(2), space="w", frames=3, crossfade_row=False)
    assert res.frames == [] and res.metrics["crossfade_smoothness"] is None and len(res.images) == 3


def test_npz_paths_and_unknown_inputs(tiny_engine, tmp_path):
    pa = save_latents(tmp_path / "a.npz", tiny_engine.latent_record(latent_in(tiny_engine, "z", 1), "z"))
    pb = save_latents(tmp_path / "b.npz", tiny_engine.latent_record(latent_in(tiny_engine, "z", 2), "z"))
    assert len(interpolate(tiny_engine, str(pa), pb, space="z", frames=3).images) == 3
    with pytest.raises(LatentStudioError, match="image or a latent"):
        interpolate(tiny_engine, tmp_path / "a.txt", pb, space="z", frames=3)


def test_dcgan_z_only(tiny_dcgan_engine):
    e = tiny_dcgan_engine
    ra, rb = e.latent_record(e.random_z(1, 1), "z"), e.latent_record(e.random_z(1, 2), "z")
    res = interpolate(e, ra, rb, space="z", frames=4)
    assert len(res.images) == 4 and res.metrics["method"] == "slerp"
    for space in ("w", "w+"):
        with pytest.raises(LatentStudioError, match=re.escape(f"no '{space}' space; it supports z")):
            interpolate(e, ra, rb, space=space, frames=4)
    with pytest.raises(LatentStudioError, match="Unknown latent space"):
        interpolate(e, ra, rb, space="s", frames=4)


def test_space_conversion_rules(tiny_engine):
    e = tiny_engine
    z = e.random_z(1, 3)
    res = interpolate(e, e.latent_record(z, "z"), e.latent_record(z, "z"), space="w+", frames=2)
    with torch.no_grad():
        assert np.array_equal(res.latents["latent"][0], e.G.mapping(z)[0].numpy())
    w = latent_in(e, "w", 4)
    res = interpolate(e, e.latent_record(w, "w"), e.latent_record(w, "w"), space="w+", frames=2)
    assert np.array_equal(res.latents["latent"][0], w[0][None].repeat(e.G.num_ws, 1).numpy())
    wp = e.latent_record(latent_in(e, "w+", 5), "w+")
    with pytest.raises(LatentStudioError, match="w\\+ latent.*single w"):
        interpolate(e, wp, wp, space="w", frames=2)
    with pytest.raises(LatentStudioError, match="back into z"):
        interpolate(e, e.latent_record(w, "w"), e.latent_record(w, "w"), space="z", frames=2)


def test_latent_from_another_model_refused(tiny_engine):
    good = tiny_engine.latent_record(latent_in(tiny_engine, "w+", 1), "w+")
    other = {**good, "fingerprint": np.array("0123456789ab")}
    with pytest.raises(LatentStudioError, match="another model"):
        interpolate(tiny_engine, good, other, frames=3)


def test_image_inputs_are_inverted(tiny_engine, tmp_path, monkeypatch):
    e = tiny_engine
    known = {1: latent_in(e, "w+", 1), 2: latent_in(e, "w+", 2)}
    calls = []

    def fake_invert(images, *, space="w+", progress=None, **options):
        calls.append((len(images), images[0].size, space, options))
        return Result(images=images, latents=e.latent_record(known[len(calls)], space), metrics={"loss": 0.5})

    monkeypatch.setattr(e, "invert", fake_invert, raising=False)
    path_b = tmp_path / "b.PNG"
    Image.new("RGB", (32, 32), (10, 200, 30)).save(path_b)
    res = interpolate(e, Image.new("RGB", (32, 32)), str(path_b), space="w+", frames=3,
                      invert_options={"steps": 3, "seed": 7})
    assert [c[0] for c in calls] == [1, 1] and all(c[2] == "w+" for c in calls)
    assert calls[0][3] == {"steps": 3, "seed": 7}
    assert np.array_equal(res.latents["latent"][0], known[1][0].numpy())
    assert np.array_equal(res.latents["latent"][-1], known[2][0].numpy())
    assert res.metrics["inversion"] == [{"loss": 0.5}, {"loss": 0.5}] and "invert" in res.timings


# ---------------------------------------------------------------------------------------------- CLI

@pytest.fixture
def cli():
    import engines.cli.main as m
    return m


def test_cli_gif_on_default_model(cli, tmp_path, capsys):
    import imageio.v3 as iio
    from engines.stylegan.engine import GanEngine
    e = GanEngine("default", device="cpu")
    a = save_latents(tmp_path / "a.npz", e.latent_record(e.random_z(1, 1), "z"))
    b = save_latents(tmp_path / "b.npz", e.latent_record(e.random_z(1, 2), "z"))
    out = tmp_path / "out" / "anim.gif"
    assert cli.main(["interpolate", str(a), str(b), "--device", "cpu", "--frames", "4", "--out", str(out)]) == 0
    assert iio.imread(out, index=None).shape[:3] == (4, 64, 64)
    assert iio.imread(tmp_path / "out" / "anim_crossfade.gif", index=None).shape[0] == 4
    assert (tmp_path / "out" / "anim_strip.png").is_file()
    data = json.loads((tmp_path / "out" / "anim_metrics.json").read_text())
    assert data["metrics"]["space"] == "w+" and data["metrics"]["frames"] == 4
    assert np.load(tmp_path / "out" / "anim_latents.npz")["latent"].shape == (4, e.G.num_ws, e.G.w_dim)
    # errors surface as one line and a non-zero exit code
    assert cli.main(["interpolate", str(a), str(b), "--device", "cpu", "--frames", "1", "--out", str(out)]) == 2
    assert "Frames must be between" in capsys.readouterr().err


def test_cli_mp4_no_crossfade(cli, tiny_engine, tmp_path, monkeypatch):
    import imageio.v3 as iio
    import engines.stylegan.engine as engine_mod
    monkeypatch.setattr(engine_mod, "GanEngine", lambda *args, **kw: tiny_engine)
    a = save_latents(tmp_path / "a.npz", tiny_engine.latent_record(latent_in(tiny_engine, "w", 1), "w"))
    b = save_latents(tmp_path / "b.npz", tiny_engine.latent_record(latent_in(tiny_engine, "w", 2), "w"))
    out, strip = tmp_path / "anim.mp4", tmp_path / "s" / "strip.png"
    assert cli.main(["interpolate", str(a), str(b), "--space", "w", "--frames", "6", "--fps", "8",
                     "--no-crossfade", "--strip", str(strip), "--out", str(out)]) == 0
    assert iio.imread(out, plugin="FFMPEG", index=None).shape[0] == 6
    assert strip.is_file() and not (tmp_path / "anim_crossfade.mp4").exists()
    assert not (tmp_path / "anim_strip.png").exists()
    assert cli.main(["interpolate", str(a), str(b), "--out", str(tmp_path / "x.avi")]) == 2
    assert cli.main(["interpolate", str(a), str(b), "--fps", "0", "--out", str(out)]) == 2


def test_cli_images_with_real_inversion(cli, tiny_engine, tmp_path, monkeypatch):
    """Image endpoints go through the engine's real `invert` (tiny network: a few steps take no time)."""
    import engines.stylegan.engine as engine_mod
    monkeypatch.setattr(engine_mod, "GanEngine", lambda *args, **kw: tiny_engine)
    img = tmp_path / "a.png"
    Image.new("RGB", (48, 48), (200, 40, 40)).save(img)
    b = save_latents(tmp_path / "b.npz", tiny_engine.latent_record(latent_in(tiny_engine, "w+", 2), "w+"))
    out = tmp_path / "img.gif"
    assert cli.main(["interpolate", str(img), str(b), "--frames", "3", "--steps", "2", "--seed", "1",
                     "--out", str(out), "--no-crossfade"]) == 0
    data = json.loads((tmp_path / "img_metrics.json").read_text())
    assert data["options"]["invert_options"] == {"steps": 2, "seed": 1} and len(data["metrics"]["inversion"]) == 1
