"""Direction files as users download them: InterFaceGAN .npy, e4e/PTI/HyperStyle .pt, STIT per-layer, GANSpace .npz.

Every file is written the way its project writes it, applied through the engine's ``edit`` and checked
row by row; unsafe files are refused without running anything, and no message suggests loading unsafely.
"""
from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from engines.base import LatentStudioError
from engines.stylegan import directions as dirs
from engines.stylegan.directions import Direction
from engines.stylegan.editing import ganspace_edit, load_direction, save_direction

UNSAFE_HINTS = ("weights_only", "allow_pickle", "trusted source", "add_safe_globals")


def _record(engine, seed=0):
    return engine.latent_record(engine.random_z(1, seed), "z")


def _moves(engine, direction, strength, **options):
    """(edited w+ minus the strength-0 w+) as float64 [num_ws, dim], and the edit's Result."""
    res = engine.edit(_record(engine), direction, [0.0, strength], **options)
    lat = np.asarray(res.latents["latent"], dtype=np.float64)
    return lat[1] - lat[0], res


def unit_vector(v):
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    return v / np.linalg.norm(v)


def _assert_safe_message(message: str):
    for hint in UNSAFE_HINTS:
        assert hint not in message, message


@pytest.fixture
def w_dim(tiny_engine):
    return int(tiny_engine.G.w_dim)


@pytest.fixture
def num_ws(tiny_engine):
    return int(tiny_engine.G.num_ws)


# ---------------------------------------------------------------------------------------------- single vectors

@pytest.mark.parametrize("shape", ["flat", "row"])
@pytest.mark.parametrize("legacy", [False, True])
def test_e4e_pt_tensor_moves_every_row_by_strength_times_unit(tiny_engine, tmp_path, w_dim, shape, legacy):
    gen = torch.Generator().manual_seed(1)
    t = 3.0 * torch.randn(w_dim, generator=gen)  # not unit length, like many downloaded files
    saved = t if shape == "flat" else t[None]
    path = tmp_path / "age.pt"
    torch.save(saved, path, _use_new_zipfile_serialization=not legacy)
    moved, res = _moves(tiny_engine, str(path), 1.5)
    expected = 1.5 * unit_vector(t.numpy())
    assert np.allclose(moved, np.broadcast_to(expected, moved.shape), atol=1e-5)
    d = load_direction(path, tiny_engine)
    assert d.name == "age" and d.fingerprint == "" and d.vector.shape == (w_dim,)
    assert d.meta["file_shape"] == list(saved.shape) and d.meta["file_norm"] == pytest.approx(float(t.norm()), rel=1e-5)
    assert res.options["direction"] == "age" and res.options["layers"] == "all"


def test_pt_dict_with_one_tensor_and_other_dtypes(tiny_engine, tmp_path, w_dim):
    t = torch.randn(1, w_dim, generator=torch.Generator().manual_seed(2))
    torch.save({"direction": t.half(), "note": "from some repo", "epoch": 3}, tmp_path / "smile.pth")
    d = load_direction(tmp_path / "smile.pth", tiny_engine)
    assert np.allclose(d.vector, unit_vector(t.half().float().numpy()), atol=1e-6)
    assert d.meta["file_key"] == "direction"
    torch.save({"a": t, "b": t}, tmp_path / "two.pt")
    with pytest.raises(LatentStudioError, match="2 tensors.*'a', 'b'.*exactly one"):
        load_direction(tmp_path / "two.pt", tiny_engine)
    torch.save(t, tmp_path / "misnamed.npz")
    with pytest.raises(LatentStudioError, match="PyTorch file with a numpy name; rename it to misnamed.pt"):
        load_direction(tmp_path / "misnamed.npz", tiny_engine)
    torch.save([t], tmp_path / "list.pt")
    with pytest.raises(LatentStudioError, match="holds a list, not a tensor"):
        load_direction(tmp_path / "list.pt", tiny_engine)
    torch.save(torch.zeros(w_dim), tmp_path / "zero.pt")
    with pytest.raises(LatentStudioError, match="zero vector"):
        load_direction(tmp_path / "zero.pt", tiny_engine)


@pytest.mark.parametrize("shape", ["flat", "row"])
def test_interfacegan_npy_moves_by_strength_times_unit(tiny_engine, tmp_path, w_dim, shape):
    v = np.random.default_rng(3).normal(size=w_dim) * 0.3
    np.save(tmp_path / "pose.npy", v if shape == "flat" else v[None])
    moved, _ = _moves(tiny_engine, tmp_path / "pose.npy", -2.0, layers="2:4")
    assert np.allclose(moved[2:4], -2.0 * unit_vector(v), atol=1e-5)
    assert np.abs(moved[:2]).max() == 0 and np.abs(moved[4:]).max() == 0


def test_direction_files_by_name_in_the_model_folder(tiny_engine, tmp_path, w_dim):
    tiny_engine.bundle.folder = tmp_path
    (tmp_path / "directions").mkdir()
    torch.save(torch.ones(1, w_dim), tmp_path / "directions" / "age.pt")
    np.save(tmp_path / "directions" / "pose.npy", np.ones(w_dim))
    assert load_direction("age", tiny_engine).meta["source"] == "age.pt"
    with pytest.raises(LatentStudioError, match="Available names: age, pose"):
        load_direction("smile", tiny_engine)


# ---------------------------------------------------------------------------------------------- per-layer

def _per_layer(num_ws, w_dim, seed=4):
    D = np.random.default_rng(seed).normal(size=(num_ws, w_dim))
    D *= np.linspace(0.5, 3.0, num_ws)[:, None]  # rows of different sizes: their ratios must survive
    return D, D * np.sqrt(num_ws) / np.linalg.norm(D)  # the file and its normalised form (RMS row norm 1)


@pytest.mark.parametrize("kind", ["npy", "pt", "npy_batch"])
def test_per_layer_direction_moves_row_i_by_row_i(tiny_engine, tmp_path, num_ws, w_dim, kind):
    D, unit = _per_layer(num_ws, w_dim)
    if kind == "pt":
        path = tmp_path / "stit.pt"
        torch.save(torch.from_numpy(D).float(), path)
    else:
        path = tmp_path / "stit.npy"
        np.save(path, D[None] if kind == "npy_batch" else D)  # [1, num_ws, dim] too
    d = load_direction(path, tiny_engine)
    assert d.per_layer and d.vector.shape == (num_ws, w_dim)
    assert np.allclose(np.sqrt((d.vector.astype(np.float64) ** 2).sum(1).mean()), 1.0, atol=1e-6)
    moved, _ = _moves(tiny_engine, path, 2.5)
    assert np.allclose(moved, 2.5 * unit, atol=1e-5)
    # a layer range still restricts which rows move; the others keep their own row, unscaled
    moved, res = _moves(tiny_engine, path, 2.5, layers="3:6")
    assert np.allclose(moved[3:6], 2.5 * unit[3:6], atol=1e-5)
    assert np.abs(moved[:3]).max() == 0 and np.abs(moved[6:]).max() == 0 and res.options["layers"] == [3, 6]


def test_per_layer_round_trip_condition_and_errors(tiny_engine, tiny_dcgan_engine, tmp_path, num_ws, w_dim):
    D, unit = _per_layer(num_ws, w_dim)
    d = Direction("stit", D, "w", "file")
    path = save_direction(d, tmp_path)
    back = load_direction(path, tiny_engine)
    assert np.allclose(back.vector, unit, atol=1e-6) and back.per_layer
    # conditioning removes the condition from every row
    c = Direction("c", np.random.default_rng(5).normal(size=w_dim), "w", "test")
    ws = tiny_engine.G.mapping(tiny_engine.random_z(1, 0))
    step = (dirs.apply(ws, back, 1.0, condition=c) - ws)[0].double()
    assert (step @ torch.from_numpy(unit_vector(c.vector))).abs().max() < 1e-4
    assert abs(float(step.pow(2).sum(1).mean().sqrt()) - 1.0) < 1e-4
    with pytest.raises(LatentStudioError, match="per-layer .*needs w\\+ latents"):
        dirs.apply(ws[:, 0], back, 1.0)
    # the wrong number of rows, and per-layer on DCGAN (no layers), name both shapes
    np.save(tmp_path / "short.npy", D[:3])
    with pytest.raises(LatentStudioError, match=rf"short.npy holds shape \[3, {w_dim}\], a per-layer direction for 3 "
                                                rf"w\+ rows; this model's w\+ has {num_ws} rows of {w_dim} "
                                                rf"\(expected \[{w_dim}\], \[1, {w_dim}\] or \[num_ws={num_ws}, {w_dim}\]\)"):
        load_direction(tmp_path / "short.npy", tiny_engine)
    z_dim = int(tiny_dcgan_engine.G.z_dim)
    np.save(tmp_path / "zrows.npy", np.ones((4, z_dim)))
    with pytest.raises(LatentStudioError, match=rf"zrows.npy holds shape \[4, {z_dim}\], a per-layer direction; .*"
                                                rf"no layers \(expected \[{z_dim}\] or \[1, {z_dim}\]\)"):
        load_direction(tmp_path / "zrows.npy", tiny_dcgan_engine)
    np.save(tmp_path / "cube.npy", np.ones((2, num_ws, w_dim)))
    with pytest.raises(LatentStudioError, match=r"shape \[2, \d+, \d+\]; a direction is \[dim\], \[1, dim\] or per-layer"):
        load_direction(tmp_path / "cube.npy", tiny_engine)


# ---------------------------------------------------------------------------------------------- GANSpace

def _ganspace_file(path, w_dim, k=6, flat=False, seed=6):
    gen = np.random.default_rng(seed)
    comp = gen.normal(size=(k, w_dim))
    comp[:, :] /= np.linalg.norm(comp, axis=1, keepdims=True)
    comp[3] *= 1.25  # one non-unit component: the edit must still be exactly strength·stdev·comp
    stdev = gen.uniform(0.5, 3.0, size=k)
    mean = gen.normal(size=(w_dim,) if flat else (1, w_dim))
    # GANSpace's own files hold more arrays (activation statistics, strings); only lat_* are read
    np.savez(path, lat_comp=(comp if flat else comp[:, None]).astype(np.float32), lat_mean=mean.astype(np.float32),
             lat_stdev=stdev.astype(np.float32), act_comp=np.ones((k, 1, 4), np.float32),
             decomposition_method=np.array("ipca"))
    return comp.astype(np.float32).astype(np.float64), stdev.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("flat", [False, True])
def test_ganspace_named_edit_moves_rows_first_to_last_inclusive_in_stdevs(tiny_engine, tmp_path, w_dim, num_ws, flat):
    comp, stdev = _ganspace_file(tmp_path / "ganspace.npz", w_dim, flat=flat)
    edit = ganspace_edit(tmp_path / "ganspace.npz", component=3, first=1, last=4, strength=2.0)
    assert edit.name == "ganspace_c3" and edit.meta["rows"] == [1, 5]  # last layer included: stop = last + 1
    assert (edit.meta["first_layer"], edit.meta["last_layer"], edit.meta["component"]) == (1, 4, 3)
    moved, res = _moves(tiny_engine, edit, 1.5)
    expected = 1.5 * 2.0 * stdev[3] * comp[3]  # GANSpace: w + strength·stdev·comp
    assert np.allclose(moved[1:5], expected, atol=1e-5)  # rows 1, 2, 3 and 4
    assert np.abs(moved[0]).max() == 0 and np.abs(moved[5:]).max() == 0
    assert res.options["layers"] == [1, 5] and res.options["method"] == "ganspace_file"
    # one row: first == last
    moved, _ = _moves(tiny_engine, ganspace_edit(tmp_path / "ganspace.npz", 0, 2, 2), 1.0)
    assert np.allclose(moved[2], stdev[0] * comp[0], atol=1e-5)
    assert np.abs(np.delete(moved, 2, axis=0)).max() == 0
    # the whole model by default (last=None): strength in standard deviations on every row
    moved, _ = _moves(tiny_engine, load_direction(tmp_path / "ganspace.npz", tiny_engine, component=5), -1.0)
    assert np.allclose(moved, np.broadcast_to(-stdev[5] * comp[5], moved.shape), atol=1e-5)
    # an explicit layer range replaces the edit's own rows; "a-b" is inclusive, "a:b" is not
    assert dirs.parse_layers("0-5", num_ws) == dirs.parse_layers("0:6", num_ws) == (0, 6)
    assert dirs.parse_layers("3-3", num_ws) == (3, 4)
    for layers in ("0-1", "0:2"):
        moved, _ = _moves(tiny_engine, edit, 1.0, layers=layers)
        assert np.allclose(moved[:2], 2.0 * stdev[3] * comp[3], atol=1e-5) and np.abs(moved[2:]).max() == 0
    # a GANSpace edit saved by Latent Studio keeps its rows and scale
    back = load_direction(save_direction(edit, tmp_path / "saved"), tiny_engine)
    moved_back, _ = _moves(tiny_engine, back, 1.5)
    assert np.allclose(moved_back[1:5], 1.5 * 2.0 * stdev[3] * comp[3], atol=1e-5)


def test_ganspace_errors_are_clear(tiny_engine, tmp_path, w_dim, num_ws):
    _ganspace_file(tmp_path / "g.npz", w_dim)
    with pytest.raises(LatentStudioError, match="GANSpace component file.*--component N --layers FIRST-LAST"):
        load_direction(tmp_path / "g.npz", tiny_engine)
    with pytest.raises(LatentStudioError, match="component 6 is out of range: g.npz has 6 components \\(0 to 5\\)"):
        ganspace_edit(tmp_path / "g.npz", 6)
    with pytest.raises(LatentStudioError, match="last layer comes before the first"):
        ganspace_edit(tmp_path / "g.npz", 0, 4, 3)
    with pytest.raises(LatentStudioError, match=f"edits w\\+ rows 2 to 20 \\(both included\\), .*rows 0 to {num_ws - 1}"):
        load_direction(ganspace_edit(tmp_path / "g.npz", 0, 2, 20), tiny_engine)
    np.save(tmp_path / "plain.npy", np.ones(w_dim))
    with pytest.raises(LatentStudioError, match="not a GANSpace file"):
        load_direction(tmp_path / "plain.npy", tiny_engine, component=0)
    np.savez(tmp_path / "nostd.npz", lat_comp=np.ones((2, 1, w_dim)))
    with pytest.raises(LatentStudioError, match="no lat_stdev"):
        ganspace_edit(tmp_path / "nostd.npz", 0)
    np.savez(tmp_path / "badstd.npz", lat_comp=np.ones((2, 1, w_dim)), lat_stdev=np.ones(3))
    with pytest.raises(LatentStudioError, match="lat_stdev has shape \\[3\\]"):
        ganspace_edit(tmp_path / "badstd.npz", 0)
    _ganspace_file(tmp_path / "narrow.npz", 16)
    with pytest.raises(LatentStudioError, match=rf"narrow.npz's lat_comp holds shape \[6, 1, 16\], of dimension 16; "
                                                rf"this model's w has {w_dim} dimensions \(expected \[k, 1, {w_dim}\]"):
        load_direction(tmp_path / "narrow.npz", tiny_engine, component=1)


# ---------------------------------------------------------------------------------------------- widths

def test_wrong_width_names_both_shapes(tiny_engine, tiny_dcgan_engine, tmp_path, w_dim, num_ws):
    torch.save(torch.ones(1, 512), tmp_path / "age.pt")
    with pytest.raises(LatentStudioError) as info:
        load_direction(tmp_path / "age.pt", tiny_engine)
    assert str(info.value) == (f"age.pt holds shape [1, 512], of dimension 512; this model's w has {w_dim} dimensions "
                               f"(expected [{w_dim}], [1, {w_dim}] or [num_ws={num_ws}, {w_dim}]).")
    np.save(tmp_path / "smile.npy", np.ones(512))
    with pytest.raises(LatentStudioError, match=r"smile.npy holds shape \[512\], of dimension 512"):
        tiny_engine.edit(_record(tiny_engine), tmp_path / "smile.npy", [1.0])
    torch.save(torch.ones(num_ws, 512), tmp_path / "stit.pt")
    with pytest.raises(LatentStudioError, match=rf"stit.pt holds shape \[{num_ws}, 512\], of dimension 512"):
        load_direction(tmp_path / "stit.pt", tiny_engine)
    z_dim = int(tiny_dcgan_engine.G.z_dim)
    with pytest.raises(LatentStudioError, match=rf"age.pt holds shape \[1, 512\].*z has {z_dim} dimensions "
                                                rf"\(expected \[{z_dim}\] or \[1, {z_dim}\]\)"):
        load_direction(tmp_path / "age.pt", tiny_dcgan_engine)
    with pytest.raises(LatentStudioError, match=r"Direction 'mine' holds shape \[3\]"):
        load_direction(Direction("mine", np.ones(3), "w", "test"), tiny_engine)


# ---------------------------------------------------------------------------------------------- unsafe files

class _Payload:
    """Pickles as a call to os.system: what a hostile 'direction' file looks like."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _Thing:
    pass


def _refused(path, engine):
    with pytest.raises(LatentStudioError) as info:
        load_direction(path, engine)
    message = str(info.value)
    _assert_safe_message(message)
    assert info.value.__cause__ is None  # torch's own message (with its unsafe advice) is not chained either
    return message


@pytest.mark.parametrize("how", ["zip", "legacy", "raw_pickle"])
def test_pt_with_code_is_refused_without_running_it(tiny_engine, tmp_path, how):
    marker = tmp_path / "ran"
    path = tmp_path / "age.pt"
    if how == "raw_pickle":
        path.write_bytes(pickle.dumps(_Payload(marker)))
    else:
        torch.save(_Payload(marker), path, _use_new_zipfile_serialization=how == "zip")
    message = _refused(path, tiny_engine)
    assert not marker.exists()
    assert message.startswith("age.pt is not a tensor-only direction file") and "never runs code from files" in message
    if how != "raw_pickle":
        assert "system" in message  # the global it asked for is named


def test_other_non_tensor_files_are_refused_clearly(tiny_engine, tmp_path, w_dim):
    torch.save(_Thing(), tmp_path / "thing.pt")
    assert "_Thing" in _refused(tmp_path / "thing.pt", tiny_engine)
    torch.save(np.ones(w_dim), tmp_path / "numpy_inside.pt")
    assert "not a tensor-only direction file" in _refused(tmp_path / "numpy_inside.pt", tiny_engine)
    torch.save(torch.ones(w_dim), tmp_path / "good.pt")
    (tmp_path / "cut.pt").write_bytes((tmp_path / "good.pt").read_bytes()[:120])
    assert "truncated or corrupt" in _refused(tmp_path / "cut.pt", tiny_engine)
    (tmp_path / "text.pth").write_text("not a checkpoint")
    assert "never runs code from files" in _refused(tmp_path / "text.pth", tiny_engine)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    message = _refused(tmp_path / "obj.npy", tiny_engine)
    assert "not a readable direction file" in message and "pickled Python objects" in message
    np.savez(tmp_path / "objvec.npz", vector=np.array([None] * w_dim, dtype=object))
    assert "pickled Python objects" in _refused(tmp_path / "objvec.npz", tiny_engine)
    np.savez(tmp_path / "objgs.npz", lat_comp=np.array([None], dtype=object), lat_stdev=np.ones(1))
    with pytest.raises(LatentStudioError) as info:
        ganspace_edit(tmp_path / "objgs.npz", 0)
    _assert_safe_message(str(info.value))


# ---------------------------------------------------------------------------------------------- CLI

def test_cli_edit_with_pt_and_ganspace_component(cli, tiny_g, tiny_d, tmp_path, capsys):
    from engines.stylegan.checkpoints import save_gan
    from engines.stylegan.engine import GanEngine
    from engines.stylegan.latents import save_latents
    model = save_gan(tmp_path / "m", tiny_g, tiny_d)
    engine = GanEngine(str(model), device="cpu")
    w_dim, num_ws = int(engine.G.w_dim), int(engine.G.num_ws)
    lat = save_latents(tmp_path / "lat.npz", _record(engine))
    flags = ["--model", str(model), "--device", "cpu"]

    comp, stdev = _ganspace_file(tmp_path / "gs.npz", w_dim)
    out = tmp_path / "gs_edit"
    assert cli(["edit", str(lat), "--direction", str(tmp_path / "gs.npz"), "--component", "3", "--layers", "1-4",
                "--strength", "2", "--steps", "3", *flags, "--out", str(out)]) == 0
    with np.load(out / "latents.npz", allow_pickle=False) as npz:
        edited = np.asarray(npz["latent"], dtype=np.float64)
    moved = edited[2] - edited[1]  # strengths -2, 0, 2
    assert np.allclose(moved[1:5], 2.0 * stdev[3] * comp[3], atol=1e-5) and np.abs(moved[[0, *range(5, num_ws)]]).max() == 0
    options = json.loads((out / "metrics.json").read_text())["options"]
    assert options["layers"] == [1, 5] and options["direction"] == "gs_c3"

    torch.save(torch.ones(1, w_dim), tmp_path / "age.pt")
    assert cli(["edit", str(lat), "--direction", str(tmp_path / "age.pt"), "--steps", "2", *flags,
                "--out", str(tmp_path / "pt_edit")]) == 0
    capsys.readouterr()
    assert cli(["edit", str(lat), "--direction", str(tmp_path / "gs.npz"), *flags, "--out", str(tmp_path / "x")]) == 2
    assert "--component N" in capsys.readouterr().err
    torch.save(_Payload(tmp_path / "ran"), tmp_path / "evil.pt")
    assert cli(["edit", str(lat), "--direction", str(tmp_path / "evil.pt"), *flags, "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert "not a tensor-only direction file" in err and not (tmp_path / "ran").exists()
    _assert_safe_message(err)
    torch.save(torch.ones(1, 512), tmp_path / "wide.pt")
    assert cli(["edit", str(lat), "--direction", str(tmp_path / "wide.pt"), *flags, "--out", str(tmp_path / "z")]) == 2
    assert f"wide.pt holds shape [1, 512], of dimension 512; this model's w has {w_dim} dimensions" in capsys.readouterr().err
