"""Every checkpoint reader round-trips, and a pickle that would run code is refused without running it."""
from __future__ import annotations

import os
import pickle

import pytest
import torch

from engines.base import LatentStudioError
from engines.stylegan.checkpoints import load_gan, save_gan
from engines.stylegan.official_pkl import read_pickle

from official_format import rosinality_state_dict, write_official_pkl


def _same_images(G1, G2, space="z", tol=1e-5):
    z = torch.randn(3, G1.z_dim, generator=torch.Generator().manual_seed(7))
    a, b = G1(z), G2(z)
    assert (a - b).abs().max().item() < tol
    if hasattr(G1, "mapping"):
        assert (G1(z, truncation_psi=0.5) - G2(z, truncation_psi=0.5)).abs().max().item() < tol


def test_our_format_round_trip_fp32(tmp_path, tiny_g, tiny_d):
    save_gan(tmp_path / "m", tiny_g, tiny_d, fp16=False, card="# tiny\n")
    bundle = load_gan(str(tmp_path / "m"))
    _same_images(tiny_g, bundle.G)
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(tiny_d(img), bundle.D(img), atol=1e-5)
    assert bundle.card.startswith("# tiny") and bundle.arch == "stylegan2"


def test_our_format_fp16_is_close_and_single_file_works(tmp_path, tiny_g):
    save_gan(tmp_path / "m", tiny_g, fp16=True)
    bundle = load_gan(str(tmp_path / "m" / "model.safetensors"))  # config from metadata
    z = torch.randn(2, 32)
    assert (bundle.G(z) - tiny_g(z)).abs().max() < 0.05
    assert next(bundle.G.parameters()).dtype == torch.float32


def test_dcgan_round_trip(tmp_path, tiny_dcgan):
    G, D = tiny_dcgan
    save_gan(tmp_path / "dc", G, D, fp16=False)
    bundle = load_gan(str(tmp_path / "dc"))
    assert bundle.arch == "dcgan"
    _same_images(G, bundle.G)


def test_official_pkl_round_trip_without_running_embedded_source(tmp_path, tiny_g, tiny_d):
    marker = tmp_path / "pwned"
    src = f"open({str(marker)!r}, 'w').write('ran')\n"  # what the official loader would exec
    write_official_pkl(tmp_path / "net.pkl", tiny_g, tiny_d, module_src=src)
    bundle = load_gan(str(tmp_path / "net.pkl"))
    _same_images(tiny_g, bundle.G)
    img = torch.rand(4, 3, 32, 32) * 2 - 1
    assert torch.allclose(tiny_d(img), bundle.D(img), atol=1e-5)
    assert not marker.exists()


class _Payload:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"G_ema": _Payload(marker)}))
    with pytest.raises(LatentStudioError, match="Refusing.*(posix|os)\\.system"):
        load_gan(str(tmp_path / "evil.pkl"))
    assert not marker.exists()
    # The same file really is dangerous with an ordinary unpickler (proof the payload works).
    pickle.loads((tmp_path / "evil.pkl").read_bytes())
    assert marker.exists()


def test_pickle_with_builtin_eval_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (eval, ("1+1",))
    (tmp_path / "e.pkl").write_bytes(pickle.dumps(Evil()))
    with pytest.raises(LatentStudioError, match="builtins.eval"):
        read_pickle(tmp_path / "e.pkl")


def test_rosinality_round_trip(tmp_path, tiny_g):
    torch.save({"g_ema": rosinality_state_dict(tiny_g), "latent_avg": tiny_g.w_avg.clone()}, tmp_path / "r.pt")
    bundle = load_gan(str(tmp_path / "r.pt"))
    _same_images(tiny_g, bundle.G)


def test_rosinality_pt_with_code_is_refused(tmp_path):
    torch.save({"g_ema": {}, "x": _Payload(tmp_path / "pwned")}, tmp_path / "bad.pt")
    with pytest.raises(LatentStudioError, match="safely"):
        load_gan(str(tmp_path / "bad.pt"))
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"\x80\x03}q\x00."])
def test_broken_files_give_clear_errors(tmp_path, content):
    for name in ("x.pkl", "x.pt", "x.safetensors"):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(LatentStudioError):
            load_gan(str(tmp_path / name))


def test_truncated_safetensors_and_missing_files(tmp_path, tiny_g):
    save_gan(tmp_path / "m", tiny_g)
    data = (tmp_path / "m" / "model.safetensors").read_bytes()
    (tmp_path / "m" / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(LatentStudioError, match="safetensors"):
        load_gan(str(tmp_path / "m"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(LatentStudioError, match="model.safetensors"):
        load_gan(str(tmp_path / "empty"))
    (tmp_path / "x.bin").write_bytes(b"1")
    with pytest.raises(LatentStudioError, match="Don't know how to read"):
        load_gan(str(tmp_path / "x.bin"))


def test_config_that_does_not_fit_the_weights(tmp_path, tiny_g):
    save_gan(tmp_path / "m", tiny_g)
    cfg = (tmp_path / "m" / "config.json").read_text().replace('"channel_max": 32', '"channel_max": 16')
    (tmp_path / "m" / "config.json").write_text(cfg)
    with pytest.raises(LatentStudioError, match="do not fit|shape"):
        load_gan(str(tmp_path / "m"))


@pytest.mark.parametrize("arch", ["stylegan2", "dcgan"])
def test_default_is_our_shipped_model(arch):
    bundle = load_gan("default", arch=arch)
    assert bundle.arch == arch and bundle.D is not None
    assert bundle.G.img_resolution == 64
    assert "model card" in bundle.card.lower() and "cat" in bundle.card.lower()


def test_missing_default_weights_are_a_clear_error(tmp_path, monkeypatch):
    import engines.stylegan.checkpoints as ckpt
    monkeypatch.setattr(ckpt, "default_path", lambda arch: tmp_path / arch)
    with pytest.raises(LatentStudioError, match="default stylegan2 weights are missing"):
        load_gan("default")
