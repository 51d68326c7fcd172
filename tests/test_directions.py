"""Latent directions: SeFa, GANSpace, InterFaceGAN-style examples, applying, files, `edit` and the CLI."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import LatentStudioError, Result
from engines.stylegan import directions as dirs
from engines.stylegan import editing
from engines.stylegan.directions import Direction


def _wplus(engine, n=1, seed=0):
    return engine.G.mapping(engine.random_z(n, seed))


def _image_change(engine, latent, d, strength=3.0):
    a = engine.G.synthesis(latent)
    b = engine.G.synthesis(dirs.apply(latent, d, strength))
    return (a - b).abs().mean().item()


# ---------------------------------------------------------------------------------------------- finding

def test_sefa_unit_orthogonal_sorted_and_moves_image(tiny_engine):
    found = tiny_engine.directions("sefa", k=4)
    assert [d.name for d in found] == ["sefa_0", "sefa_1", "sefa_2", "sefa_3"]
    V = np.stack([d.vector for d in found]).astype(np.float64)
    assert np.allclose(V @ V.T, np.eye(4), atol=1e-5)
    evals = [d.meta["eigenvalue"] for d in found]
    assert evals == sorted(evals, reverse=True)
    assert all(d.space == "w" and d.fingerprint == tiny_engine.fingerprint for d in found)
    assert _image_change(tiny_engine, _wplus(tiny_engine), found[0]) > 1e-3
    # a layer range only factorises those layers' weights, so it finds something else
    coarse = dirs.sefa(tiny_engine.G, k=1, layers="coarse")[0]
    assert coarse.meta["layers"] == [0, 4] and coarse.fingerprint == ""
    assert all(name.startswith(("b4.", "b8.", "b16.conv0")) for name in coarse.meta["affine_layers"])
    assert abs(float(coarse.vector @ found[0].vector)) < 0.999


def test_sefa_on_dcgan_is_a_clear_error(tiny_dcgan_engine):
    with pytest.raises(LatentStudioError, match="SeFa needs a StyleGAN2"):
        tiny_dcgan_engine.directions("sefa")


def test_ganspace_unit_sorted_and_moves_image(tiny_engine, tiny_dcgan_engine):
    found = tiny_engine.directions("ganspace", k=3, n_samples=2000, seed=1)
    V = np.stack([d.vector for d in found]).astype(np.float64)
    assert np.allclose(np.linalg.norm(V, axis=1), 1, atol=1e-5)
    assert np.abs(V @ V.T - np.eye(3)).max() < 1e-4
    ratios = [d.meta["variance_ratio"] for d in found]
    assert ratios == sorted(ratios, reverse=True) and 0 < sum(ratios) <= 1
    assert _image_change(tiny_engine, _wplus(tiny_engine), found[0]) > 1e-3
    again = tiny_engine.directions("ganspace", k=3, n_samples=2000, seed=1)
    assert all(np.array_equal(a.vector, b.vector) for a, b in zip(found, again))  # deterministic, signs too
    z_dirs = tiny_dcgan_engine.directions("ganspace", k=2, n_samples=500)
    assert z_dirs[0].space == "z" and z_dirs[0].vector.shape == (tiny_dcgan_engine.G.z_dim,)


def test_examples_find_the_attribute_direction():
    gen = np.random.default_rng(0)
    dim = 32
    u = gen.normal(size=dim)
    u /= np.linalg.norm(u)
    pos = gen.normal(size=(200, dim)) + 2 * u
    neg = gen.normal(size=(200, dim)) - 2 * u
    d = dirs.from_examples(pos, neg, "smile")
    assert d.method == "examples" and d.name == "smile"
    assert float(d.vector @ u) > 0.9  # and it points from neg to pos
    assert d.meta["train_accuracy"] >= 0.95
    # w+ examples are averaged over rows
    d3 = dirs.from_examples(np.repeat(pos[:, None], 4, 1), np.repeat(neg[:, None], 4, 1), "smile")
    assert np.allclose(d3.vector, d.vector, atol=1e-4)
    with pytest.raises(LatentStudioError, match="cannot be told apart"):
        dirs.from_examples(pos, pos, "same")
    with pytest.raises(LatentStudioError, match="same latent"):
        dirs.from_examples(np.ones((3, dim)), np.ones((3, dim)) + 1e-9, "collapsed")


def test_named_direction_regulariser_is_chosen_on_training_photos_alone():
    """bench.named_directions picks the boundary's L2 by cross-validation: many noisy dimensions and few
    examples want a strong regulariser, and the choice and its scores come from the training photos only."""
    from bench.named_directions import L2_GRID, cross_validated_l2, split_accuracy
    gen = torch.Generator().manual_seed(0)
    dim, n = 64, 30
    u = torch.zeros(dim)
    u[0] = 1.0
    pos = torch.randn(n, dim, generator=gen) + 1.0 * u
    neg = torch.randn(n, dim, generator=gen) - 1.0 * u
    l2, scores = cross_validated_l2(pos, neg, "toy", [])
    assert l2 in L2_GRID and set(scores) == set(L2_GRID)
    assert scores[l2] == max(scores.values()) and all(0 <= s <= 1 for s in scores.values())
    assert l2 >= 0.1 > min(L2_GRID)  # few examples, many irrelevant dimensions: a strong regulariser wins
    again = cross_validated_l2(pos, neg, "toy", [])
    assert again == (l2, scores)  # deterministic folds
    v = torch.as_tensor(dirs.from_examples(pos, neg, "toy", l2=l2).vector, dtype=torch.float32)
    right = split_accuracy(v, pos, neg, pos, neg)
    assert right.shape == (2 * n,) and float(right.mean()) > 0.8


def test_conditioned_boundary_is_the_best_one_orthogonal_to_its_conditions():
    """``--orthogonal-to``: the boundary is fitted on examples without the conditions' components, so where the
    condition carries information (here: it holds the noise that hides the attribute), the fit finds another
    way (a second copy of the noise) instead of losing it, as removing it from an unconditioned fit would."""
    from bench.named_directions import boundary, split_accuracy
    gen = torch.Generator().manual_seed(3)
    dim, n = 8, 400

    def points(sign: float) -> torch.Tensor:
        x = 0.3 * torch.randn(n, dim, generator=gen)
        noise = 2.0 * torch.randn(n, generator=gen)
        x[:, 1] += sign * 0.5 + noise  # the attribute, hidden under noise ...
        x[:, 0] += noise               # ... that the condition's axis holds
        x[:, 2] += noise               # ... and so does another axis
        return x
    pos, neg, tpos, tneg = points(1), points(-1), points(1), points(-1)
    condition = dirs.Direction("colour", np.eye(dim, dtype=np.float32)[0], "w", "sefa", "", {})
    d = boundary(pos, neg, "toy", "", 0.01, [condition])
    v = torch.as_tensor(d.vector, dtype=torch.float32)
    assert abs(float(v[0])) < 1e-6 and abs(float(v.norm()) - 1) < 1e-5  # orthogonal to the condition, unit
    fitted_first = dirs.from_examples(pos, neg, "toy", l2=0.01).vector.copy()
    fitted_first[0] = 0
    late = torch.as_tensor(fitted_first / np.linalg.norm(fitted_first), dtype=torch.float32)
    ours, theirs = (float(split_accuracy(u, pos, neg, tpos, tneg).mean()) for u in (v, late))
    assert ours > 0.8 and ours > theirs + 0.1, (ours, theirs)  # 0.87 against 0.70 here


def test_named_direction_row_range_is_chosen_on_training_photos_alone():
    """``--space w+ --rows auto``: when only some w+ rows carry the attribute, cross-validation on the training
    latents picks a range inside them, and the features of a range are the mean of its rows."""
    from bench.named_directions import cross_validated_rows, features, row_candidates
    gen = torch.Generator().manual_seed(1)
    num_ws, dim, n = 10, 16, 60
    u = torch.zeros(dim)
    u[2] = 1.0

    def latents(sign: float, count: int) -> torch.Tensor:
        x = 2.0 * torch.randn(count, num_ws, dim, generator=gen)
        x[:, 4:8] += sign * 1.5 * u  # the attribute lives in rows 4..7 only
        return x
    sets = [latents(1, n), latents(-1, n), latents(1, 20), latents(-1, 20)]
    assert (4, 8) in row_candidates(num_ws) and all(b - a >= 2 for a, b in row_candidates(num_ws))
    assert torch.equal(features(sets[0], (4, 8)), sets[0][:, 4:8].mean(1))
    assert torch.equal(features(sets[0][:, 0], (4, 8)), sets[0][:, 0])  # w latents have no rows to choose
    rows, l2, table = cross_validated_rows(sets, "toy", [], [None if c == (0, num_ws) else c
                                                             for c in row_candidates(num_ws)], None)
    assert rows is not None and 4 <= rows[0] < rows[1] <= 8, rows
    assert set(table) >= {"all", "4:8"} and l2 in table[f"{rows[0]}:{rows[1]}"]
    assert cross_validated_rows(sets, "toy", [], [None, (4, 8)], None)[0] == (4, 8)


def test_example_images_are_inverted_into_w(tiny_engine, monkeypatch):
    u = np.zeros(32, dtype=np.float32)
    u[3] = 1
    calls = []

    def fake_invert(images, *, space="w+", progress=None, **options):
        calls.append((len(images), space, options))
        sign = 1.0 if images[0] == "pos" else -1.0
        lat = np.random.default_rng(len(calls)).normal(size=(len(images), 32)) + sign * 3 * u
        return Result(images=[], latents={"latent": lat.astype(np.float32), "space": np.array(space)})

    monkeypatch.setattr(tiny_engine, "invert", fake_invert, raising=False)
    d = editing.from_example_images(tiny_engine, ["pos"] * 20, ["neg"] * 20, "attr", {"steps": 7})
    # the examples' noise maps are never fitted: a direction lives in the latent alone
    assert calls == [(20, "w", {"optimize_noise": False, "steps": 7})] * 2
    assert d.fingerprint == tiny_engine.fingerprint and d.space == "w"
    assert d.vector[3] > 0.9


# ---------------------------------------------------------------------------------------------- applying

def test_apply_layer_range_changes_only_those_rows(tiny_engine):
    d = tiny_engine.directions("sefa", k=1)[0]
    ws = _wplus(tiny_engine, 2)
    out = dirs.apply(ws, d, 2.0, layers=(2, 5))
    changed = (out - ws).abs().amax(dim=(0, 2)) > 0
    assert changed.tolist() == [i in range(2, 5) for i in range(ws.shape[1])]
    assert torch.allclose(out[:, 3] - ws[:, 3], 2.0 * torch.from_numpy(d.vector).expand(2, -1), atol=1e-5)
    assert dirs.layer_ranges(8) == {"coarse": (0, 4), "middle": (4, 8), "fine": (8, 8), "all": (0, 8)}
    assert dirs.parse_layers("middle", 10) == (4, 8) and dirs.parse_layers("2:", 10) == (2, 10)
    assert dirs.parse_layers("all", 10) is None
    for bad in ("fine", "5:3", "nope", "0:99"):
        with pytest.raises(LatentStudioError):
            dirs.parse_layers(bad, 8)
    with pytest.raises(LatentStudioError, match="layer range needs w\\+"):
        dirs.apply(ws[:, 0], d, 1.0, layers=(0, 2))


def test_conditioning_makes_the_edit_orthogonal_to_the_condition(tiny_engine):
    gen = np.random.default_rng(1)
    a, c = gen.normal(size=32), gen.normal(size=32) + 0.5 * gen.normal(size=32)
    d = Direction("a", dirs.unit_vector(a, "a"), "w", "test")
    cond = Direction("c", dirs.unit_vector(c, "c"), "w", "test")
    ws = _wplus(tiny_engine)
    moved = dirs.apply(ws, d, 3.0, condition=cond) - ws
    step = moved[0, 0].double()
    assert abs(float(step @ torch.from_numpy(cond.vector).double())) < 1e-4
    assert abs(step.norm().item() - 3.0) < 1e-4
    with pytest.raises(LatentStudioError, match="lies along"):
        dirs.apply(ws, d, 1.0, condition=d)


def test_dcgan_applies_in_z(tiny_dcgan_engine):
    d = tiny_dcgan_engine.directions("ganspace", k=1, n_samples=200)[0]
    z = tiny_dcgan_engine.random_z(2, 0)
    assert torch.allclose(dirs.apply(z, d, 1.5) - z, 1.5 * torch.from_numpy(d.vector).expand(2, -1), atol=1e-6)
    with pytest.raises(LatentStudioError):
        dirs.apply(z, d, 1.0, layers=(0, 1))


# ---------------------------------------------------------------------------------------------- files

def test_save_load_round_trip_npz_and_bare_npy(tiny_engine, tmp_path):
    d = tiny_engine.directions("sefa", k=2)[1]
    path = editing.save_direction(d, tmp_path)
    assert path == tmp_path / "sefa_1.npz"
    with np.load(path, allow_pickle=False) as npz:
        assert set(npz.files) == {"vector", "name", "space", "method", "fingerprint", "meta"}
    back = editing.load_direction(path, tiny_engine)
    assert np.array_equal(back.vector, d.vector) and back.meta == d.meta
    assert (back.name, back.space, back.method, back.fingerprint) == (d.name, "w", "sefa", tiny_engine.fingerprint)
    # an InterFaceGAN boundary: float array [1, dim], not unit norm, no fingerprint
    np.save(tmp_path / "smile.npy", (5 * d.vector[None]).astype(np.float64))
    bare = editing.load_direction(tmp_path / "smile.npy", tiny_engine)
    assert bare.name == "smile" and bare.fingerprint == "" and np.allclose(bare.vector, d.vector, atol=1e-6)
    np.save(tmp_path / "flat.npy", d.vector)
    assert np.allclose(editing.load_direction(str(tmp_path / "flat.npy"), tiny_engine).vector, d.vector)


def test_load_by_name_from_the_model_folder(tiny_engine, tmp_path):
    tiny_engine.bundle.folder = tmp_path
    for d in tiny_engine.directions("sefa", k=2):
        editing.save_direction(d, tmp_path / "directions")
    assert editing.load_direction("sefa_1", tiny_engine).name == "sefa_1"
    with pytest.raises(LatentStudioError, match="Unknown direction 'smile'.*sefa_0, sefa_1"):
        editing.load_direction("smile", tiny_engine)


def test_file_errors_are_clear(tiny_engine, tiny_dcgan_engine, tmp_path):
    np.save(tmp_path / "wrong_dim.npy", np.ones([1, 16], np.float32))
    with pytest.raises(LatentStudioError, match="dimension 16; this model's w has 32"):
        editing.load_direction(tmp_path / "wrong_dim.npy", tiny_engine)
    np.save(tmp_path / "zero.npy", np.zeros(32, np.float32))
    with pytest.raises(LatentStudioError, match="zero vector"):
        editing.load_direction(tmp_path / "zero.npy", tiny_engine)
    np.save(tmp_path / "nan.npy", np.full(32, np.nan, np.float32))
    with pytest.raises(LatentStudioError, match="NaN"):
        editing.load_direction(tmp_path / "nan.npy", tiny_engine)
    np.save(tmp_path / "matrix.npy", np.ones([3, 32], np.float32))
    with pytest.raises(LatentStudioError, match="shape"):
        editing.load_direction(tmp_path / "matrix.npy", tiny_engine)
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(LatentStudioError, match="not a readable direction"):
        editing.load_direction(tmp_path / "obj.npy", tiny_engine)
    other = Direction("other", np.eye(32, dtype=np.float32)[0], "w", "sefa", "0123456789ab")
    path = editing.save_direction(other, tmp_path)
    with pytest.raises(LatentStudioError, match=f"0123456789ab.*{tiny_engine.fingerprint}"):
        editing.load_direction(path, tiny_engine)
    with pytest.raises(LatentStudioError, match="Unknown direction 'nope'.*no folder"):
        editing.load_direction("nope", tiny_engine)
    with pytest.raises(LatentStudioError, match="No such direction file"):
        editing.load_direction(tmp_path / "missing.npz", tiny_engine)
    w_dir = Direction("w_dir", np.eye(32, dtype=np.float32)[0], "w", "sefa")
    with pytest.raises(LatentStudioError, match="edits in z"):
        editing.load_direction(w_dir, tiny_dcgan_engine)
    with pytest.raises(LatentStudioError, match="must be letters"):
        editing.save_direction(Direction("../evil", np.ones(32, np.float32), "w", "x"), tmp_path)


# ---------------------------------------------------------------------------------------------- edit

def test_edit_strength_zero_reproduces_the_original(tiny_engine):
    d = tiny_engine.directions("sefa", k=1)[0]
    z = tiny_engine.random_z(1, 3)
    record = tiny_engine.latent_record(z, "z")
    res = editing.edit(tiny_engine, record, d, [-2.0, 0.0, 2.0], layers="coarse")
    original = np.asarray(tiny_engine.synthesize(z, "z")[0])
    assert np.array_equal(np.asarray(res.images[1]), original)
    assert res.metrics["pixel_change"][1] == 0.0
    assert res.metrics["pixel_change"][0] > 0 and res.metrics["pixel_change"][2] > 0
    assert res.latents["latent"].shape == (3, tiny_engine.G.num_ws, 32) and str(res.latents["space"]) == "w+"
    assert res.options["layers"] == [0, 4]
    # a w latent works too, and the edited latents reload into the same images
    w = tiny_engine.latent_record(tiny_engine.G.mapping(z)[:, 0], "w")
    res_w = editing.edit(tiny_engine, w, d, [0.0, 1.0])
    again = tiny_engine.synthesize(*tiny_engine.load_latent(res_w.latents))
    assert np.array_equal(np.asarray(again[1]), np.asarray(res_w.images[1]))


def test_edit_an_image_inverts_first_and_dcgan_edits_z(tiny_engine, tiny_dcgan_engine, monkeypatch):
    ws = _wplus(tiny_engine, 1, 5)
    seen = {"calls": 0}

    def fake_invert(images, *, space="w+", progress=None, **options):
        seen.update(space=space, n=len(images), calls=seen["calls"] + 1)
        return Result(images=[], latents=tiny_engine.latent_record(ws, "w+"))

    monkeypatch.setattr(tiny_engine, "invert", fake_invert, raising=False)
    d, d2 = tiny_engine.directions("ganspace", k=2, n_samples=500)[:2]
    photo = Image.fromarray(np.full((40, 40, 3), 120, np.uint8))
    res = editing.edit(tiny_engine, photo, d, [0.0])
    assert seen == {"space": "w+", "n": 1, "calls": 1} and res.options["source"] == "image"
    assert np.allclose(res.latents["latent"], ws.numpy())
    # the same photo along another direction (or strength): the inversion is reused, not repeated
    again = editing.edit(tiny_engine, photo.copy(), d2, [0.0, 2.0])
    assert seen["calls"] == 1 and again.options["source"] == "image (inversion reused)"
    assert np.allclose(again.latents["latent"][0], ws.numpy()[0])
    editing.edit(tiny_engine, photo, d, [0.0], invert_options={"steps": 7})     # other inversion options: a new run
    editing.edit(tiny_engine, Image.fromarray(np.full((40, 40, 3), 30, np.uint8)), d, [0.0])   # another photo
    assert seen["calls"] == 3
    zd = tiny_dcgan_engine.directions("ganspace", k=1, n_samples=200)[0]
    zrec = tiny_dcgan_engine.latent_record(tiny_dcgan_engine.random_z(1, 0), "z")
    res = editing.edit(tiny_dcgan_engine, zrec, zd, [0.0, 3.0])
    assert res.latents["latent"].shape == (2, tiny_dcgan_engine.G.z_dim) and res.metrics["pixel_change"][1] > 0
    with pytest.raises(LatentStudioError, match="no w\\+ layers"):
        editing.edit(tiny_dcgan_engine, zrec, zd, [1.0], layers="coarse")


# ---------------------------------------------------------------------------------------------- CLI

def test_cli_directions_and_edit(cli, tiny_g, tiny_d, tmp_path, capsys):
    from engines.stylegan.checkpoints import save_gan
    from engines.stylegan.engine import GanEngine
    from engines.stylegan.latents import save_latents
    model = save_gan(tmp_path / "m", tiny_g, tiny_d)
    out = model / "directions"
    flags = ["--model", str(model), "--device", "cpu"]
    assert cli(["directions", "--method", "sefa", "--k", "2", "--layers", "0:4", *flags, "--out", str(out)]) == 0
    summary = json.loads((out / "directions.json").read_text())
    assert [d["name"] for d in summary["directions"]] == ["sefa_0", "sefa_1"]
    for name in ("sefa_0", "sefa_1"):
        assert (out / f"{name}.npz").is_file() and (out / f"{name}_preview.png").is_file()

    engine = GanEngine(str(model), device="cpu")
    lat = save_latents(tmp_path / "lat.npz", engine.latent_record(engine.random_z(2, 1), "z"))
    pos = save_latents(tmp_path / "pos.npz", engine.latent_record(torch.randn(6, 32) + 2, "w"))
    neg = save_latents(tmp_path / "neg.npz", engine.latent_record(torch.randn(6, 32) - 2, "w"))
    ex_out = tmp_path / "ex"
    assert cli(["directions", "--method", "examples", "--pos", str(pos), "--neg", str(neg), "--name", "plus",
                *flags, "--out", str(ex_out)]) == 0
    assert (ex_out / "plus.npz").is_file()
    assert json.loads((ex_out / "directions.json").read_text())["directions"][0]["meta"]["train_accuracy"] == 1.0

    ed = tmp_path / "edit"
    assert cli(["edit", str(lat), "--direction", "sefa_0", "--strength", "2", "--steps", "3", "--layers", "coarse",
                "--condition", str(ex_out / "plus.npz"), *flags, "--out", str(ed)]) == 0
    metrics = json.loads((ed / "metrics.json").read_text())
    assert metrics["metrics"]["strengths"] == [-2.0, 0.0, 2.0] and metrics["metrics"]["pixel_change"][1] == 0.0
    assert metrics["options"]["condition"] == ["plus"]
    assert all((ed / f).is_file() for f in ("strip.png", "edit_00.png", "edit_02.png", "latents.npz"))
    capsys.readouterr()
    assert cli(["directions", "--method", "sefa", "--arch", "dcgan", "--device", "cpu", "--out", str(tmp_path / "x")]) == 2
    assert "SeFa needs a StyleGAN2" in capsys.readouterr().err
    assert cli(["edit", str(lat), "--direction", "nope", *flags, "--out", str(ed)]) == 2
    assert "sefa_0, sefa_1" in capsys.readouterr().err


def test_progress_is_reported_but_never_stored_in_the_options(tiny_engine):
    from PIL import Image
    seen = []
    d = tiny_engine.directions("ganspace", k=1, n_samples=200)[0]
    res = editing.edit(tiny_engine, Image.new("RGB", (32, 32), (90, 60, 30)), d, [0.0, 1.0],
                       invert_options={"steps": 3}, progress=lambda s, t, p: seen.append(s))
    assert seen and seen[-1] == 3
    assert "progress" not in json.dumps(res.options) and "bound method" not in json.dumps(res.options, default=repr)


# ---------------------------------------------------------------------------------------------- shipped
SHIPPED = Path(__file__).resolve().parents[1] / "weights" / "stylegan2-cats64"
LABELS = SHIPPED.parents[1] / "bench" / "labels"
LABELLED_DIRECTIONS = ("grumpy", "age", "eyes_open")


@pytest.fixture(scope="module")
def shipped_engine():
    from engines.stylegan.engine import GanEngine
    return GanEngine(str(SHIPPED), device="cpu")


@pytest.mark.parametrize("name", LABELLED_DIRECTIONS)
def test_shipped_named_direction_is_well_formed_and_edits_at_its_default_strength(shipped_engine, name):
    with np.load(SHIPPED / "directions" / f"{name}.npz", allow_pickle=False) as f:
        assert {"vector", "name", "space", "method", "fingerprint", "meta"} <= set(f.files)
        vector, meta = f["vector"], json.loads(str(f["meta"]))
        assert (str(f["name"]), str(f["space"]), str(f["method"])) == (name, "w", "examples")
    assert vector.shape == (shipped_engine.G.w_dim,) and np.isfinite(vector).all()
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-4
    assert meta["heldout_accuracy"] > 0.55 and 1 <= meta["default_strength"] <= 6 and meta["description"]
    assert name in editing.named_directions(shipped_engine)
    d = editing.load_direction(name, shipped_engine)  # checks the fingerprint against the shipped model
    strength = d.meta["default_strength"]
    w = shipped_engine.G.mapping(shipped_engine.random_z(2, 3), truncation_psi=0.7)
    with torch.no_grad():
        before, after = shipped_engine.G.synthesis(w), shipped_engine.G.synthesis(dirs.apply(w, d, strength))
    assert torch.isfinite(after).all() and after.abs().max() <= 1.5
    assert 0.01 < (after - before).abs().mean() < 0.5  # it edits, and does not replace the image


def test_label_files_name_each_photo_once_in_the_split_they_say():
    from engines import data as datasets
    files = sorted(LABELS.glob("*.txt"))
    assert {f.stem for f in files} >= {"age_kitten", "age_adult", "eyes_open", "eyes_closed"}
    rows = {}
    for path in files:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        assert all(len(fields) == 2 and fields[1] in ("train", "val") for fields in lines), path.name
        assert all(datasets.is_validation(name, 0.05) == (split == "val") for name, split in lines), path.name
        names = [name for name, _ in lines]
        assert len(names) == len(set(names)), path.name
        rows[path.stem] = lines
    for a, b in (("age_kitten", "age_adult"), ("eyes_open", "eyes_closed")):
        assert not {n for n, _ in rows[a]} & {n for n, _ in rows[b]}
    for stem in ("age_kitten", "age_adult"):
        assert sum(split == "train" for _, split in rows[stem]) >= 60
        assert sum(split == "val" for _, split in rows[stem]) >= 15


def test_edit_strength_has_one_range_everywhere(tiny_engine):
    """The engine, `edit --strength` and the Edit tab's slider take the strength's range from `EditOptions`."""
    import subprocess
    import sys
    from engines.base import LatentStudioError
    from engines.stylegan import editing
    from engines.stylegan.options import EditOptions
    limit = EditOptions.limit("strength")
    d = tiny_engine.directions("ganspace", k=1, n_samples=100)[0]
    with pytest.raises(LatentStudioError, match=f"Strength must be between -{limit.max} and {limit.max}"):
        editing.edit(tiny_engine, tiny_engine.random_latent(0, 0.7), d, [limit.max + 1])
    out = subprocess.run([sys.executable, "-m", "engines", "edit", "--help"], capture_output=True, text=True)
    assert f"0-{int(limit.max)} (default: {limit.default:g})" in " ".join(out.stdout.split())
