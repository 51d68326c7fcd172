"""Drag to edit (DragGAN, issue 28): the maths against a plain re-statement, and handles that move."""
from __future__ import annotations

import math

import pytest
import torch

from engines.base import LatentStudioError
from engines.stylegan import drag as D


def _bilinear(feat, x, y):
    """One feature vector [K] at (x, y) pixels (centres at integers), edges clamped: the textbook formula."""
    _, k, h, w = feat.shape
    x, y = min(max(x, 0.0), w - 1.0), min(max(y, 0.0), h - 1.0)
    x0, y0 = int(math.floor(x)), int(math.floor(y))
    x1, y1 = min(x0 + 1, w - 1), min(y0 + 1, h - 1)
    ax, ay = x - x0, y - y0
    f = feat[0]
    return ((1 - ax) * (1 - ay) * f[:, y0, x0] + ax * (1 - ay) * f[:, y0, x1] + (1 - ax) * ay * f[:, y1, x0]
            + ax * ay * f[:, y1, x1])


def test_motion_supervision_matches_the_papers_equation():
    g = torch.Generator().manual_seed(0)
    feat = torch.randn(1, 5, 16, 16, generator=g)
    feat0 = torch.randn(1, 5, 16, 16, generator=g)
    mask = (torch.rand(1, 1, 16, 16, generator=g) > 0.5).float()
    handles, targets = torch.tensor([[4.0, 5.0], [10.0, 9.0]]), torch.tensor([[9.0, 5.0], [7.0, 13.0]])
    r1 = 2.0
    expect = 0.0
    for (px, py), (tx, ty) in zip(handles.tolist(), targets.tolist()):
        n = math.hypot(tx - px, ty - py)
        dx, dy = (tx - px) / n, (ty - py) / n
        terms = [(_bilinear(feat, px + ox + dx, py + oy + dy) - _bilinear(feat, px + ox, py + oy)).abs().mean()
                 for oy in range(-2, 3) for ox in range(-2, 3) if ox * ox + oy * oy <= r1 * r1]
        expect += float(torch.stack(terms).mean())
    expect += 10.0 * float(((feat - feat0).abs() * (1 - mask)).mean())
    got = D.motion_loss(feat, handles, targets, r1, mask, feat0, 10.0)
    assert float(got) == pytest.approx(expect, rel=1e-5)


def test_point_tracking_is_the_nearest_feature_in_the_search_square():
    g = torch.Generator().manual_seed(1)
    feat = torch.randn(1, 4, 12, 12, generator=g)
    reference = feat[0, :, 7, 3].clone()[None]      # the feature at x=3, y=7
    assert D.track(feat, torch.tensor([[5.0, 6.0]]), reference, r2=3).tolist() == [[3.0, 7.0]]
    # outside the square it is not seen: the nearest inside wins (brute force over the square)
    far = D.track(feat, torch.tensor([[9.0, 2.0]]), reference, r2=2)[0].tolist()
    best = min(((x, y) for x in range(7, 12) for y in range(0, 5)),
               key=lambda q: float((feat[0, :, q[1], q[0]] - reference[0]).abs().sum()))
    assert far == [float(best[0]), float(best[1])]


def test_a_drag_runs_on_the_first_rows_only_and_records_its_path(tiny_g):
    z = torch.randn(1, tiny_g.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ws = tiny_g.mapping(z)
    result = D.drag(tiny_g, ws, [[12.0, 16.0]], [[20.0, 16.0]], config=D.DragConfig(steps=6, lr=0.05, frames=3))
    assert len(result.path) == result.steps_run + 1 and result.latent.shape == ws.shape
    assert len(result.losses) == result.steps_run and len(result.frames) >= 1
    kept = tiny_g.num_ws - math.ceil(tiny_g.num_ws / 3)
    assert torch.equal(result.latent[:, -kept:], ws[:, -kept:])  # only the first rows move
    assert not torch.equal(result.latent, ws)


def test_a_dragged_nose_arrives_and_the_content_moves_with_it():
    """On the shipped 64 px model (a random tiny one has no parts to track): the nose of sample 5 dragged 7 px right
    arrives by the tracker, and patch matching between before and after (`bench.drag`, independent of the tracker)
    sees the nose move at least half of the way."""
    from bench.drag import match_along
    from engines.stylegan.engine import GanEngine
    engine = GanEngine("default", device="cpu")
    handle, target = (32.0, 40.0), (39.0, 41.0)
    result = engine.drag(5, [list(handle)], [list(target)], steps=100, frames=0)
    assert result.metrics["distance_after"][0] <= 2.0 < result.metrics["distance_before"][0]
    before, after = result.images
    assert match_along(before, after, handle, target, 64) >= 0.5


def test_bad_points_get_clear_errors(tiny_g):
    ws = tiny_g.mapping(torch.zeros(1, tiny_g.z_dim))
    with pytest.raises(LatentStudioError, match="inside the 32×32 image"):
        D.drag(tiny_g, ws, [[40.0, 3.0]], [[3.0, 3.0]])
    with pytest.raises(LatentStudioError, match="Every handle needs one target"):
        D.drag(tiny_g, ws, [[4.0, 3.0], [5.0, 5.0]], [[3.0, 3.0]])
    with pytest.raises(LatentStudioError, match="Steps must be"):
        D.drag(tiny_g, ws, [[4.0, 3.0]], [[3.0, 3.0]], config=D.DragConfig(steps=0))


def test_engine_drag_from_a_seed_a_latent_and_a_photo(tiny_engine):
    from engines.stylegan.dragging import parse_points
    handles, targets = parse_points("12,16:20,16")
    first = tiny_engine.drag(0, handles, targets, steps=5, lr=0.05, frames=2)
    assert [im.size for im in first.images] == [(32, 32)] * 2 and first.metrics["steps_run"] <= 5
    assert first.metrics["distance_before"] == [8.0] and len(first.metrics["path"]) == first.metrics["steps_run"] + 1
    again = tiny_engine.drag(first.latents, handles, targets, steps=2, lr=0.05)  # its latent goes on
    assert again.options["source"] == "latent"
    photo = tiny_engine.sample(1, seed=4)[0].resize((90, 90))
    from_photo = tiny_engine.drag(photo, handles, targets, steps=2, invert_options={"steps": 2})
    assert from_photo.options["source"] == "photo" and from_photo.images[0].size == (32, 32)
    with pytest.raises(LatentStudioError, match="handle:target pairs"):
        parse_points("12,16;20,16")


def test_cli_drag_writes_before_after_gif_latent_and_metrics(tmp_path, tiny_g, tiny_d):
    import json

    from engines.cli.main import main
    from engines.stylegan.checkpoints import save_gan
    save_gan(tmp_path / "m", tiny_g, tiny_d)
    out = tmp_path / "out"
    assert main(["drag", "--model", str(tmp_path / "m"), "--seed", "1", "--points", "12,16:20,16;5,5:5,9",
                 "--steps", "4", "--lr", "0.05", "--frames", "2", "--out", str(out)]) == 0
    record = json.loads((out / "metrics.json").read_text())
    assert {"before.png", "after.png", "drag.npz"} <= {p.name for p in out.iterdir()}
    assert len(record["metrics"]["distance_after"]) == 2 and record["options"]["targets"] == [[20.0, 16.0], [5.0, 9.0]]
    assert main(["drag", "--model", str(tmp_path / "m"), "--seed", "1", "--points", "50,16:20,16",
                 "--out", str(out)]) == 2  # outside the 32 px image: a clear error, no traceback
