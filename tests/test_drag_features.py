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
