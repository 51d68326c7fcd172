"""The generators and discriminators: shapes, ranges, determinism, w+, truncation."""
from __future__ import annotations

import pytest
import torch

from engines.stylegan.dcgan import DCGANGenerator
from engines.stylegan.discriminator import StyleGAN2Discriminator
from engines.stylegan.networks import StyleGAN2Generator, truncate
from engines.stylegan.ops import setup_filter, upfirdn2d, upsample2d


@pytest.mark.parametrize("res", [32, 64, 128])
def test_stylegan2_shapes_and_num_ws(res):
    G = StyleGAN2Generator(img_resolution=res, z_dim=16, w_dim=16, channel_base=256, channel_max=16, mapping_layers=2)
    assert G.num_ws == 2 * int(torch.log2(torch.tensor(res)).item()) - 2
    img = G(torch.randn(2, 16))
    assert img.shape == (2, 3, res, res)
    assert torch.isfinite(img).all()
    D = StyleGAN2Discriminator(img_resolution=res, channel_base=256, channel_max=16)
    assert D(img).shape == (2, 1)
    assert [f.shape[-1] for f in D.features(img)] == [res // 2 ** i for i in range(1, len(D.block_resolutions) + 1)]


def test_w_plus_takes_one_row_per_layer_and_each_row_matters(tiny_g):
    ws = tiny_g.mapping(torch.randn(1, 32))
    assert ws.shape == (1, tiny_g.num_ws, 32)
    base = tiny_g.synthesis(ws)
    for i in range(tiny_g.num_ws):
        moved = ws.clone()
        moved[:, i] += 1.0
        assert not torch.allclose(tiny_g.synthesis(moved), base), f"w+ row {i} is ignored"
    with pytest.raises(ValueError):
        tiny_g.synthesis(ws[:, :-1])


def test_w_space_equals_w_plus_with_repeated_rows(tiny_g):
    w = torch.randn(2, 32)
    a = tiny_g.synthesize(w, "w")
    b = tiny_g.synthesize(w.unsqueeze(1).repeat(1, tiny_g.num_ws, 1), "w+")
    assert torch.allclose(a, b)
    assert torch.allclose(tiny_g.synthesize(torch.zeros(1, 32) + 0.3, "z"),
                          tiny_g(torch.zeros(1, 32) + 0.3))


def test_same_seed_same_image_and_noise_modes(tiny_g):
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(tiny_g(z), tiny_g(z))  # const noise: deterministic
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(tiny_g(z, noise_mode="random", generator=g1), tiny_g(z, noise_mode="random", generator=g2))
    assert not torch.allclose(tiny_g(z, noise_mode="none"), tiny_g(z, noise_mode="const"))
    with pytest.raises(ValueError):
        tiny_g(z, noise_mode="bogus")


def test_truncation_pulls_toward_w_avg(tiny_g):
    z = torch.randn(4, 32)
    w = tiny_g.mapping(z)
    w_half = tiny_g.mapping(z, truncation_psi=0.5)
    w_zero = tiny_g.mapping(z, truncation_psi=0.0)
    assert torch.allclose(w_zero, tiny_g.w_avg.expand_as(w_zero))
    d_full = (w - tiny_g.w_avg).norm(dim=-1)
    d_half = (w_half - tiny_g.w_avg).norm(dim=-1)
    assert torch.allclose(d_half, 0.5 * d_full, atol=1e-5)
    cut = truncate(w, tiny_g.w_avg, 0.0, cutoff=2)
    assert torch.allclose(cut[:, :2], tiny_g.w_avg.expand(4, 2, 32)) and torch.equal(cut[:, 2:], w[:, 2:])


def test_w_avg_tracking_updates_toward_batch_mean(tiny_g):
    before = tiny_g.w_avg.clone()
    tiny_g.mapping(torch.randn(64, 32), update_emas=True)
    assert not torch.equal(before, tiny_g.w_avg)


def test_output_range_is_image_like_for_default_init():
    G = StyleGAN2Generator(img_resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32)
    img = G(torch.randn(8, 32))
    assert img.abs().mean() < 10  # unit-variance modulated convs keep activations bounded


def test_upfirdn_upsample_preserves_constant_images():
    f = setup_filter()
    x = torch.ones(1, 2, 8, 8)
    up = upsample2d(x, f)
    assert up.shape == (1, 2, 16, 16)
    assert torch.allclose(up[..., 2:-2, 2:-2], torch.ones(1, 2, 12, 12), atol=1e-6)
    down = upfirdn2d(x, f, down=2, padding=[1, 1, 1, 1])
    assert down.shape == (1, 2, 4, 4)


def test_dcgan_generator_api(tiny_dcgan):
    G, D = tiny_dcgan
    z = torch.randn(3, 16)
    img = G(z)
    assert img.shape == (3, 3, 32, 32) and img.min() >= -1 and img.max() <= 1
    assert torch.equal(G.synthesize(z, "z"), img)
    assert torch.allclose(G(z, truncation_psi=0.0), G(torch.zeros(3, 16)))
    assert G.spaces == ("z",)
    with pytest.raises(ValueError):
        G.synthesize(z, "w")
    assert D(img).shape == (3, 1)
    assert len(D.features(img)) == 3


def test_dcgan_resolution_is_configurable():
    for res in (16, 64):
        assert DCGANGenerator(img_resolution=res, z_dim=8, base_channels=4)(torch.randn(1, 8)).shape[-1] == res


@pytest.mark.parametrize("up,demodulate", [(1, True), (2, True), (1, False)])
def test_fused_and_unfused_modulated_conv_agree(up, demodulate):
    from engines.stylegan.ops import modulated_conv2d
    gen = torch.Generator().manual_seed(0)
    x, w = torch.randn(3, 8, 8, 8, generator=gen), torch.randn(16, 8, 3, 3, generator=gen)
    styles, noise = torch.randn(3, 8, generator=gen), torch.randn(3, 1, 8 * up, 8 * up, generator=gen)
    kw = dict(noise=noise, up=up, padding=1, resample_filter=setup_filter(), demodulate=demodulate, flip_weight=up == 1)
    a = modulated_conv2d(x, w, styles, fused=True, **kw)
    b = modulated_conv2d(x, w, styles, fused=False, **kw)
    assert torch.allclose(a, b, atol=1e-5)
