"""Official-format pickles as stylegan2-ada-pytorch writes them load, and sample as the official maths does.

The pickles come from `official_format.write_official_pkl` (numpy gains, EasyDict kwargs, fp16/clamp
settings, an augment pipe, G and G_ema that differ); the reference images from `official_reference`.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engines.base import LatentStudioError
from engines.stylegan.checkpoints import load_gan
from engines.stylegan.discriminator import StyleGAN2Discriminator
from engines.stylegan.networks import StyleGAN2Generator

import official_reference as ref
from conftest import randomize
from official_format import generator_kwargs, write_official_pkl

SHAPES = {
    # what the official configs use: 'auto' at 64 px (fp16 + clamp), 'paper256' (z = w = 512)
    "64px-fp16-clamp": dict(img_resolution=64, z_dim=64, w_dim=64, channel_base=1024, channel_max=64,
                            mapping_layers=2, num_fp16_res=4, conv_clamp=256),
    "256px-z512": dict(img_resolution=256, z_dim=512, w_dim=512, channel_base=2048, channel_max=512,
                       mapping_layers=8, num_fp16_res=4, conv_clamp=256),
    "conditional": dict(img_resolution=32, z_dim=32, w_dim=32, c_dim=3, channel_base=512, channel_max=32,
                        mapping_layers=2),
    "clamp-reached": dict(img_resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32,
                          mapping_layers=2, num_fp16_res=2, conv_clamp=0.5),
}


def _official(tmp_path, name, **extra):
    G = randomize(StyleGAN2Generator(**SHAPES[name]), 11)
    path = tmp_path / f"{name}.pkl"
    write_official_pkl(path, G, **extra)
    return G, path


def _inputs(G, n=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=gen)
    c = F.one_hot(torch.arange(n) % max(G.c_dim, 1), max(G.c_dim, 1)).float() if G.c_dim else None
    return z, c


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_official_pickle_samples_like_the_official_maths_in_z_w_and_wplus(tmp_path, name):
    G, path = _official(tmp_path, name)
    bundle = load_gan(str(path))
    sd, kw = G.state_dict(), generator_kwargs(G.config)
    z, c = _inputs(G)
    with torch.no_grad():
        for psi in (1.0, 0.7):
            ours = bundle.G(z, c, truncation_psi=psi)
            assert (ours - ref.generate(sd, kw, z, c, psi)).abs().max() < 1e-4, psi
        w = bundle.G.mapping(z, c)
        assert (w[:, 0] - ref.mapping(sd, kw, z, c)).abs().max() < 1e-5
        wplus = w + 0.3 * torch.randn(w.shape, generator=torch.Generator().manual_seed(1))
        assert (bundle.G.synthesis(wplus) - ref.synthesis(sd, kw, wplus)).abs().max() < 1e-4
    assert bundle.G.config.num_fp16_res == SHAPES[name].get("num_fp16_res", 0)
    assert bundle.G.config.conv_clamp == SHAPES[name].get("conv_clamp")


def test_the_clamp_is_reached_and_applied_where_the_official_generator_applies_it(tmp_path):
    G, path = _official(tmp_path, "clamp-reached")
    bundle = load_gan(str(path))
    sd, kw = G.state_dict(), generator_kwargs(G.config)
    z, _ = _inputs(G, n=4)
    unclamped = ref.generate(sd, {**kw, "synthesis_kwargs": {**kw["synthesis_kwargs"], "conv_clamp": None}}, z)
    with torch.no_grad():
        ours = bundle.G(z)
    official = ref.generate(sd, kw, z)
    assert (official - unclamped).abs().max() > 0.1          # the clamp really changes this image
    assert (ours - official).abs().max() < 1e-5              # and ours clamps exactly there
    # with a wrong clamp (× the lrelu gain, the old bug) the images part
    wrong = ref.generate(sd, {**kw, "synthesis_kwargs": {**kw["synthesis_kwargs"], "conv_clamp": 0.5 * 2 ** 0.5}}, z)
    assert (ours - wrong).abs().max() > 0.05


def test_fp16_blocks_follow_the_official_mixed_precision_when_asked(tmp_path):
    """On CUDA the fp16 blocks run in float16 (``force_fp32=False``); the same maths runs on CPU here."""
    G, path = _official(tmp_path, "clamp-reached")
    bundle = load_gan(str(path))
    sd, kw = G.state_dict(), generator_kwargs(G.config)
    z, _ = _inputs(G)
    with torch.no_grad():
        ws = bundle.G.mapping(z)
        half = bundle.G.synthesis(ws, force_fp32=False)
        full = bundle.G.synthesis(ws)
    official_half = ref.synthesis(sd, kw, ws, force_fp32=False)
    assert half.dtype == torch.float32
    assert (half - full).abs().max() > 1e-5                 # float16 really ran
    assert (half - official_half).abs().max() < 2e-3       # within float16 rounding of the official fp16 path
    assert (full - ref.synthesis(sd, kw, ws)).abs().max() < 1e-5


def test_g_ema_is_what_loads_not_the_training_g(tmp_path):
    G, path = _official(tmp_path, "conditional")
    bundle = load_gan(str(path))
    z, c = _inputs(G)
    with torch.no_grad():
        assert (bundle.G(z, c) - G(z, c)).abs().max() < 1e-6


@pytest.mark.parametrize("spelling", ["numpy.core", "numpy._core"])
def test_numpy_scalars_in_either_spelling_load_as_plain_numbers(tmp_path, spelling):
    from engines.stylegan.official_pkl import read_pickle
    G = randomize(StyleGAN2Generator(**SHAPES["conditional"]), 3)
    write_official_pkl(tmp_path / "n.pkl", G, numpy_core=spelling)
    assert f"c{spelling}.multiarray\nscalar".encode() in (tmp_path / "n.pkl").read_bytes()
    data = read_pickle(tmp_path / "n.pkl")
    fc = data["G_ema"].state["_modules"]["mapping"].state["_modules"]["fc0"]
    assert type(fc.state["weight_gain"]) is float and fc.state["weight_gain"] == pytest.approx(0.01 / np.sqrt(64))
    assert load_gan(str(tmp_path / "n.pkl")).G.c_dim == 3


def test_discriminator_with_mbstd_group_size_none_loads(tmp_path):
    G = randomize(StyleGAN2Generator(**SHAPES["conditional"]), 3)
    D = randomize(StyleGAN2Discriminator(img_resolution=32, c_dim=3, channel_base=512, channel_max=32,
                                         mbstd_group_size=None), 4)
    write_official_pkl(tmp_path / "tf.pkl", G, D, mbstd_group_size=None)
    bundle = load_gan(str(tmp_path / "tf.pkl"))
    assert bundle.D is not None and bundle.D.config.mbstd_group_size is None
    img, c = torch.rand(3, 3, 32, 32) * 2 - 1, torch.eye(3)
    with torch.no_grad():
        assert torch.allclose(bundle.D(img, c), D(img, c), atol=1e-5)


def test_numpy_values_that_are_not_numbers_are_refused(tmp_path):
    """Object arrays would carry pickled objects; numpy's own dtype constructor never sees such a code."""
    import pickle
    (tmp_path / "o.pkl").write_bytes(pickle.dumps({"G_ema": np.array([print], dtype=object)}, protocol=3))
    with pytest.raises(LatentStudioError, match="Refusing to load this pickle"):
        load_gan(str(tmp_path / "o.pkl"))
    (tmp_path / "s.pkl").write_bytes(pickle.dumps({"G_ema": np.str_("x")}, protocol=3))
    with pytest.raises(LatentStudioError, match="not a plain number"):
        load_gan(str(tmp_path / "s.pkl"))
