"""Model sources resolve to the right local files, and every failure says how to fix it (no network)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing the package

from engines import sources  # noqa: E402
from engines.base import LatentStudioError  # noqa: E402
from engines.sources import DEFAULT_SOURCES, ResolvedSource, default_path, resolve_source, safe_join  # noqa: E402


@pytest.mark.parametrize("kind", sorted(DEFAULT_SOURCES))
def test_default_points_into_weights(kind):
    res = resolve_source("default", kind)
    assert res.kind == "default"
    assert res.path == sources.REPO_ROOT / DEFAULT_SOURCES[kind] == default_path(kind)
    assert res.path.parent == sources.WEIGHTS_DIR


def test_default_unknown_kind_lists_known_kinds():
    with pytest.raises(LatentStudioError) as err:
        resolve_source("default", "vae")
    assert "vae" in str(err.value)
    for kind in DEFAULT_SOURCES:
        assert kind in str(err.value)


def test_local_file_and_folder(tmp_path, monkeypatch):
    ckpt = tmp_path / "G.pkl"
    ckpt.write_bytes(b"x")
    assert resolve_source(str(ckpt)) == ResolvedSource(str(ckpt), "local", ckpt.resolve())
    res = resolve_source(tmp_path)  # os.PathLike works too
    assert res.kind == "local" and res.path == tmp_path.resolve()
    # A relative folder that looks like "org/repo" is local when it exists.
    (tmp_path / "runs" / "cats").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    res = resolve_source("runs/cats")
    assert res.kind == "local" and res.path == (tmp_path / "runs" / "cats").resolve()


def test_local_path_expands_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"x")
    assert resolve_source("~/model.safetensors").path == (tmp_path / "model.safetensors").resolve()


@pytest.mark.parametrize("missing", ["/nonexistent/dir/G.pkl", "./nope", "models/G.pkl", "G.safetensors"])
def test_missing_path_names_it(missing):
    with pytest.raises(LatentStudioError) as err:
        resolve_source(missing)
    msg = str(err.value)
    assert "No such file or folder" in msg and missing.lstrip("./") in msg


@pytest.mark.parametrize("garbage", ["foo:bar", "", "stylegan", "hf:", "hf:not a repo", "hf:org/repo:"])
def test_garbage_spec(garbage, monkeypatch):
    import huggingface_hub

    for name in ("snapshot_download", "hf_hub_download"):
        monkeypatch.setattr(huggingface_hub, name, lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(LatentStudioError) as err:
        resolve_source(garbage)
    assert "hf:org/repo" in str(err.value)


def test_hub_offline_env_fails_with_local_path_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = "hf:latent-studio-tests/surely-not-cached-anywhere"
    with pytest.raises(LatentStudioError) as err:
        resolve_source(spec)
    msg = str(err.value)
    assert spec in msg and "local path" in msg
    assert "hf download latent-studio-tests/surely-not-cached-anywhere" in msg
    assert err.value.__cause__ is not None


def test_hub_file_offline_env(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    spec = "hf:latent-studio-tests/nothing:sub/G.pkl"
    with pytest.raises(LatentStudioError) as err:
        resolve_source(spec)
    assert spec in str(err.value) and "local path" in str(err.value)


@pytest.mark.parametrize("exc", [OSError("Connection refused"), ValueError("Repository Not Found"),
                                 RuntimeError("HTTP 500")])
def test_hub_download_errors_are_wrapped(monkeypatch, exc):
    import huggingface_hub

    def boom(*args, **kwargs):
        raise exc

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", boom)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    for spec in ("hf:org/repo", "hf:org/repo:weights.safetensors"):
        with pytest.raises(LatentStudioError) as err:
            resolve_source(spec)
        msg = str(err.value)
        assert spec in msg and "local path" in msg and str(exc) in msg
        assert err.value.__cause__ is exc


def test_hub_snapshot_and_file(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, **kw: calls.append(("snap", repo_id)) or str(tmp_path))
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo_id, filename, **kw: calls.append(("file", repo_id, filename))
                        or str(tmp_path / filename))
    res = resolve_source("hf:org/repo")
    assert res == ResolvedSource("hf:org/repo", "hub", tmp_path, repo_id="org/repo")
    res = resolve_source("hf:org/repo:sub/G.pkl")
    assert res.path == tmp_path / "sub/G.pkl" and res.filename == "sub/G.pkl" and res.repo_id == "org/repo"
    assert calls == [("snap", "org/repo"), ("file", "org/repo", "sub/G.pkl")]


def test_bare_repo_id_goes_to_hub(monkeypatch, tmp_path):
    import huggingface_hub

    calls = []
    monkeypatch.chdir(tmp_path)  # so "stabilityai/sd-turbo" is surely not a local folder
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo_id, **kw: calls.append(repo_id) or str(tmp_path))
    res = resolve_source("stabilityai/sd-turbo", "diffusion")
    assert calls == ["stabilityai/sd-turbo"]
    assert res.kind == "hub" and res.repo_id == "stabilityai/sd-turbo" and res.path == tmp_path


def test_download_false_does_not_download(monkeypatch):
    import huggingface_hub

    def boom(*a, **k):
        raise AssertionError("must not download")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", boom)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", boom)
    assert resolve_source("hf:org/repo:G.pkl", download=False) == \
        ResolvedSource("hf:org/repo:G.pkl", "hub", None, repo_id="org/repo", filename="G.pkl")
    assert resolve_source("org/repo", download=False).path is None


def test_url_download_failure_is_clear(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    url = "http://127.0.0.1:9/x.pkl"  # discard port, closed: connection refused, loopback only
    with pytest.raises(LatentStudioError) as err:
        resolve_source(url)
    msg = str(err.value)
    assert url in msg and "local path" in msg
    assert not (tmp_path / "checkpoints" / "x.pkl").exists()  # no half-written file left to be "reused"


def test_url_cached_file_is_reused(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    cached = tmp_path / "checkpoints" / "G.pkl"
    cached.parent.mkdir()
    cached.write_bytes(b"weights")
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("downloaded again"))
    res = resolve_source("https://example.com/models/G.pkl?download=1")
    assert res.kind == "url" and res.path == cached and res.filename == "G.pkl"


def test_url_downloads_into_torch_hub_cache(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    got = []

    def fake_download(url, dst, *a, **k):
        got.append(url)
        Path(dst).write_bytes(b"w")

    monkeypatch.setattr(torch.hub, "download_url_to_file", fake_download)
    res = resolve_source("https://example.com/a/b/net.pt")
    assert got == ["https://example.com/a/b/net.pt"]
    assert res.path == tmp_path / "checkpoints" / "net.pt" and res.path.read_bytes() == b"w"
    # A URL whose path names no file still gets a name inside the cache, never ".." or "".
    assert sources.url_cache_path("https://example.com/..").parent == tmp_path / "checkpoints"


def test_safe_join_accepts_inside(tmp_path):
    (tmp_path / "sub").mkdir()
    assert safe_join(tmp_path, "sub/file.json") == (tmp_path / "sub" / "file.json").resolve()
    assert safe_join(tmp_path, "a/../b.json") == (tmp_path / "b.json").resolve()


@pytest.mark.parametrize("bad", ["../x", "sub/../../x", "/etc/passwd", "", "C:/Windows/x"])
def test_safe_join_refuses_escapes(tmp_path, bad):
    with pytest.raises(LatentStudioError):
        safe_join(tmp_path / "model", bad)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks here")
def test_safe_join_refuses_symlink_outside(tmp_path):
    root = tmp_path / "model"
    root.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    (root / "weights.safetensors").symlink_to(secret)
    with pytest.raises(LatentStudioError):
        safe_join(root, "weights.safetensors")
    (root / "inside.json").write_text("{}")
    (root / "alias.json").symlink_to(root / "inside.json")
    assert safe_join(root, "alias.json") == (root / "inside.json").resolve()
