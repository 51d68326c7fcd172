"""Drag's opt-in feature-space edit (issue 28): a zero edit changes nothing, a warp moves content, and the state
it hands back reproduces the dragged image."""
from __future__ import annotations

import torch

from engines.stylegan import drag as D
from engines.stylegan.drag_features import FeatureEdit, warp


def test_warp_moves_content_by_the_field():
    x = torch.zeros(1, 1, 16, 16)
    x[0, 0, 8, 4] = 1.0
    field = torch.zeros(1, 2, 16, 16)
    field[:, 0] = 2.0 * 64 / 16  # 2 pixels of a 16 px map, given in 64 px image pixels
    moved = warp(x, field, 64)
    assert moved[0, 0, 8, 6] == 1.0 and moved[0, 0, 8, 4] == 0.0


def test_zero_edit_is_the_identity_and_the_state_reproduces_the_drag(tiny_g):
    torch.manual_seed(0)
    ws = tiny_g.mapping(torch.randn(1, tiny_g.z_dim))
    res = tiny_g.img_resolution
    block = tiny_g.synthesis.block_resolutions[-2]
    with torch.no_grad():
        plain = tiny_g.synthesis(ws)
        for kind in ("warp", "offset"):
            channels = getattr(tiny_g.synthesis, f"b{block}").conv1.weight.shape[0]
            edit = FeatureEdit(kind, block, channels, res, 2.0, torch.device("cpu"))
            assert torch.allclose(tiny_g.synthesis(ws, feature_edits=edit.edits()), plain, atol=1e-5)
    cfg = D.DragConfig(steps=4, frames=0, rows=0, feature_edit="warp", feature_res=block, feature_lr=0.5)
    done = D.drag(tiny_g, ws, [[12.0, 16.0]], [[18.0, 16.0]], config=cfg)
    assert done.edit is not None and torch.equal(done.latent, ws)
    again = FeatureEdit.from_state(done.edit, res, torch.device("cpu"))
    with torch.no_grad():
        assert torch.allclose(tiny_g.synthesis(ws, feature_edits=again.edits()), done.image, atol=1e-5)


def test_a_local_bump_lands_the_handle_on_its_target_exactly_and_does_not_fold():
    """``local``: D(q) = Σ a_i exp(−‖q − h_i − a_i‖² / 2σ²) is centred where the handle goes, so the content at h
    appears at h + a; a move longer than σ·√e widens its σ, so the warp stays one-to-one (positive Jacobian)."""
    h = torch.tensor([[20.0, 30.0]])
    for a, sigma in (([6.0, -4.0], 8.0), ([30.0, 0.0], 5.0)):
        edit = FeatureEdit("local", 64, 3, 64, sigma, torch.device("cpu"), centers=h)
        with torch.no_grad():
            edit.param.copy_(torch.tensor([a]))
        field = edit.value().detach()                                          # [1, 2, 64, 64]
        x, y = int(h[0, 0] + a[0]), int(h[0, 1] + a[1])
        assert torch.allclose(field[0, :, y, x], torch.tensor(a), atol=1e-4)  # out(h + a) = in(h)
        dx_dx = field[0, 0, :, 1:] - field[0, 0, :, :-1]
        dy_dy = field[0, 1, 1:, :] - field[0, 1, :-1, :]
        dx_dy = field[0, 0, 1:, :] - field[0, 0, :-1, :]
        dy_dx = field[0, 1, :, 1:] - field[0, 1, :, :-1]
        det = (1 - dx_dx[:-1, :]) * (1 - dy_dy[:, :-1]) - dx_dy[:, :-1] * dy_dx[:-1, :]
        assert float(det.min()) > 0
        if sigma == 8.0:  # (63, 63) is more than 4σ from where the handle goes: nothing moves there
            assert float(field[0, :, 63, 63].abs().max()) < 1e-3


def test_a_dragged_latent_carries_its_warp_everywhere(tiny_engine):
    """The default drag (local) saves its warp with the latent: the record renders the dragged image exactly, a
    second drag composes with the first, Edit at strength 0 and Interpolate's last frame draw it, and a broken warp
    entry is a clear error."""
    import numpy as np
    import pytest

    from engines import imaging
    from engines.base import LatentStudioError
    first = tiny_engine.drag(0, [[12.0, 16.0]], [[18.0, 16.0]], steps=3, frames=0)
    assert "noise.warp16" in first.latents or any(k.startswith("noise.warp") for k in first.latents)
    lat, space, noise = tiny_engine.read_latent(first.latents)
    after = imaging.to_tensor([first.images[1]])
    assert torch.allclose(imaging.to_tensor(tiny_engine.synthesize(lat, space, noise)), after, atol=1 / 127)
    second = tiny_engine.drag(first.latents, [[18.0, 16.0]], [[18.0, 10.0]], steps=3, frames=0)
    assert torch.allclose(imaging.to_tensor([second.images[0]]), after, atol=1 / 127)  # starts where it ended
    lat2, space2, noise2 = tiny_engine.read_latent(second.latents)
    assert torch.allclose(imaging.to_tensor(tiny_engine.synthesize(lat2, space2, noise2)),
                          imaging.to_tensor([second.images[1]]), atol=1 / 127)
    from engines.stylegan.directions import Direction
    edited = tiny_engine.edit(first.latents, Direction("up", np.ones(tiny_engine.G.w_dim), "w", "test"), [0.0])
    assert torch.allclose(imaging.to_tensor(edited.images[:1]), after, atol=2 / 127)
    path = tiny_engine.interpolate(tiny_engine.random_latent(0, 0.7), first.latents, frames=3)
    assert torch.allclose(imaging.to_tensor(path.images[-1:]), after, atol=2 / 127)
    broken = {**first.latents}
    key = next(k for k in broken if k.startswith("noise.warp"))
    broken[key] = broken[key][:, :1]
    with pytest.raises(LatentStudioError, match="drag warp"):
        tiny_engine.read_latent(broken)
