"""Model files from strangers: nothing in them runs, nothing outside them is read, and broken ones say so.

Each payload here is live — loading it with an ordinary unpickler creates a marker file, which the
tests show where it is cheap to — and each must be refused before anything is called: the marker
must not exist afterwards. Also: folders without the expected files, truncated safetensors, hub
sources while offline, config fields that try to name files outside the folder the user gave, and
configs that ask for networks far bigger than the weights they come with.
"""
from __future__ import annotations

import builtins
import copyreg
import json
import os
import pickle
import shutil
import struct
import subprocess
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

import official_format
from engines.base import LatentStudioError
from engines.diffusion import DiffusionEngine
from engines.sources import resolve_source
from engines.stylegan.checkpoints import load_gan, save_gan
from engines.stylegan.official_pkl import read_pickle
from official_format import EasyDict, _Persistent, write_official_pkl


class Reduce:
    """Pickles as ``func(*args)``: the shape of every code-execution payload. Callable so it can nest."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return (self.func, self.args)

    def __call__(self, *args):  # pickle insists reduce functions are callable; never called by the tests
        raise AssertionError


def _payloads(marker: Path) -> dict[str, Reduce]:
    """Different ways a pickle can make a file appear; each one works under plain `pickle.loads`."""
    m = str(marker)
    return {
        "os.system": Reduce(os.system, f"touch {m}"),
        "builtins.exec": Reduce(builtins.exec, f"open({m!r}, 'w').close()"),
        "builtins.eval": Reduce(builtins.eval, f"open({m!r}, 'w').close()"),
        "builtins.open": Reduce(builtins.open, m, "w"),
        "subprocess.call": Reduce(subprocess.call, ["touch", m]),
        "torch.save": Reduce(torch.save, {"x": 1}, m),  # a torch function that is not a tensor rebuild
        "getattr chain": Reduce(Reduce(getattr, Path(m), "touch")),  # Path(m).touch()
    }


PAYLOADS = list(_payloads(Path("x")))


def _marker_gone(path: Path) -> bool:
    return not path.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4])  # GLOBAL opcode (0, 2) and STACK_GLOBAL (4)
@pytest.mark.parametrize("name", PAYLOADS)
def test_pickle_payloads_are_refused_before_running(tmp_path, name, protocol):
    marker = tmp_path / "pwned"
    data = pickle.dumps({"G_ema": _payloads(marker)[name]}, protocol=protocol)
    (tmp_path / "evil.pkl").write_bytes(data)
    with pytest.raises(LatentStudioError, match="Refusing to load this pickle: it asks for") as exc:
        load_gan(str(tmp_path / "evil.pkl"))
    assert "never runs code from a checkpoint" in str(exc.value)
    assert _marker_gone(marker)
    pickle.loads(data)  # the same bytes really are dangerous with an ordinary unpickler
    assert marker.exists()


def test_hand_written_inst_and_ext_opcodes_are_refused(tmp_path):
    """INST (protocol 0) and EXT (copyreg's extension registry) also resolve globals through find_class."""
    marker = tmp_path / "pwned"
    inst = f"(S'touch {marker}'\nios\nsystem\n.".encode()
    (tmp_path / "inst.pkl").write_bytes(inst)
    with pytest.raises(LatentStudioError, match="'os.system'"):
        read_pickle(tmp_path / "inst.pkl")
    code = 0x7AB1
    copyreg.add_extension("posix", "system", code)  # os.system is posix.system to pickle
    try:
        data = pickle.dumps(Reduce(os.system, f"touch {marker}"), protocol=2)
        assert pickle.EXT2 in data
        (tmp_path / "ext.pkl").write_bytes(data)
        with pytest.raises(LatentStudioError, match="'posix.system'"):
            read_pickle(tmp_path / "ext.pkl")
    finally:
        copyreg.remove_extension("posix", "system", code)
    assert _marker_gone(marker)


def test_payload_nested_in_a_legit_looking_network_pickle(tmp_path, tiny_g):
    """A real official-format generator, with the payload deep inside its module tree and kwargs."""
    marker = tmp_path / "pwned"
    write_official_pkl(tmp_path / "ok.pkl", tiny_g)
    assert load_gan(str(tmp_path / "ok.pkl")).G.img_resolution == 32  # the untouched file loads

    class Hooked(_Persistent):
        def __reduce__(self):
            func, (meta,) = super().__reduce__()
            meta["state"]["_modules"]["mapping"] = Reduce(os.system, f"touch {marker}")
            meta["state"]["_init_kwargs"]["synthesis_kwargs"]["hook"] = Reduce(builtins.exec, "import os")
            return func, (meta,)
    cfg = tiny_g.config
    kwargs = EasyDict(z_dim=cfg.z_dim, c_dim=0, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution, img_channels=3,
                      mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers),
                      synthesis_kwargs=EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max))
    data = {"G": _Persistent(tiny_g, kwargs), "G_ema": Hooked(tiny_g, kwargs), "augment_pipe": None,
            "training_set_kwargs": EasyDict(path="cats.zip", resolution=32)}
    with open(tmp_path / "nested.pkl", "wb") as f:
        pickle.dump(data, f, protocol=3)
    with pytest.raises(LatentStudioError, match="Refusing to load this pickle"):
        load_gan(str(tmp_path / "nested.pkl"))
    assert _marker_gone(marker)


def test_payload_inside_tensor_storage_bytes_is_refused(tmp_path):
    """Storages are legacy ``torch.save`` blobs; they are read with ``weights_only=True`` too."""
    marker = tmp_path / "pwned"
    blob = pickle.dumps(Reduce(os.system, f"touch {marker}"), protocol=2)
    evil_storage = Reduce(torch.storage._load_from_bytes, blob)
    (tmp_path / "s.pkl").write_bytes(pickle.dumps({"G_ema": evil_storage}, protocol=3))  # bytes need >= 3
    with pytest.raises(LatentStudioError, match="a tensor storage in it asks for .posix.system."):
        load_gan(str(tmp_path / "s.pkl"))
    assert _marker_gone(marker)


def test_malformed_network_records_are_a_clear_error(tmp_path):
    meta = {"type": "class", "class_name": "Generator", "version": 6, "module_src": "",
            "state": {"_parameters": ["not", "a", "dict"], "_modules": {}, "_init_kwargs": EasyDict()}}
    record = Reduce(official_format._persistence._reconstruct_persistent_obj, meta)
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"G_ema": record}, protocol=2))
    with pytest.raises(LatentStudioError, match="not a StyleGAN2-ADA network pickle"):
        load_gan(str(tmp_path / "m.pkl"))


@pytest.mark.parametrize("name", ["os.system", "builtins.exec", "subprocess.call", "torch.save"])
@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_rosinality_pt_payloads_are_refused(tmp_path, name, container):
    marker = tmp_path / "pwned"
    obj = {"g_ema": OrderedDict(), "latent_avg": _payloads(marker)[name]}
    path = tmp_path / "net.pt"
    if container == "zip":
        torch.save(obj, path)
    else:
        path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(LatentStudioError, match="could not read it safely as a torch checkpoint") as exc:
        load_gan(str(path))
    assert "which is not a tensor or a plain container" in str(exc.value)
    assert "weights_only" not in str(exc.value)  # no advice to turn the safety off
    assert _marker_gone(marker)


@pytest.mark.parametrize("content", ["tensor", "strings"])
def test_rosinality_pt_with_odd_entries(tmp_path, content):
    obj = {"g_ema": torch.zeros(3)} if content == "tensor" else {"g_ema": {"style.1.weight": "text"}}
    torch.save(obj, tmp_path / "odd.pt")
    with pytest.raises(LatentStudioError, match="generator state dict|Not a rosinality"):
        load_gan(str(tmp_path / "odd.pt"))


def test_diffusers_bin_weights_with_a_payload_are_refused(tmp_path, tiny_pixel_dir):  # noqa: F811
    marker = tmp_path / "pwned"
    m = tmp_path / "m"
    shutil.copytree(tiny_pixel_dir, m)
    weights = m / "unet" / "diffusion_pytorch_model.safetensors"
    state = {"x": torch.zeros(1), "hook": Reduce(os.system, f"touch {marker}")}
    weights.unlink()
    torch.save(state, m / "unet" / "diffusion_pytorch_model.bin")
    with pytest.raises(LatentStudioError, match="Could not load the diffusion model in"):
        DiffusionEngine(str(m), device="cpu")
    assert _marker_gone(marker)


# ------------------------------------------------------------------- folders and truncated files

def test_gan_folder_without_the_expected_files(tmp_path, tiny_g):
    (tmp_path / "empty").mkdir()
    msg = str(pytest.raises(LatentStudioError, load_gan, str(tmp_path / "empty")).value)
    assert "has no model.safetensors (expected config.json + model.safetensors)" in msg
    save_gan(tmp_path / "m", tiny_g)
    (tmp_path / "m" / "config.json").unlink()
    from safetensors.torch import load_file, save_file
    save_file(load_file(str(tmp_path / "m" / "model.safetensors")), str(tmp_path / "m" / "model.safetensors"))
    with pytest.raises(LatentStudioError, match="has no config.json and no config in its safetensors metadata"):
        load_gan(str(tmp_path / "m"))


def test_diffusers_folder_without_the_expected_files(tmp_path, tiny_pixel_dir):  # noqa: F811
    (tmp_path / "empty").mkdir()
    with pytest.raises(LatentStudioError, match="no model_index.json"):
        DiffusionEngine(str(tmp_path / "empty"), device="cpu")
    m = tmp_path / "m"
    shutil.copytree(tiny_pixel_dir, m)
    shutil.rmtree(m / "unet")
    with pytest.raises(LatentStudioError, match="lists 'unet' but there is no unet/ folder"):
        DiffusionEngine(str(m), device="cpu")


@pytest.mark.parametrize("cut", ["half", "header", "huge header length"])
def test_truncated_gan_safetensors(tmp_path, tiny_g, cut):
    save_gan(tmp_path / "m", tiny_g)
    data = (tmp_path / "m" / "model.safetensors").read_bytes()
    broken = {"half": data[: len(data) // 2], "header": data[:20],
              "huge header length": struct.pack("<Q", 10**15) + data[8:]}[cut]
    for path in (tmp_path / "m" / "model.safetensors", tmp_path / "single.safetensors"):
        path.write_bytes(broken)
        with pytest.raises(LatentStudioError, match="is not a readable safetensors file"):
            load_gan(str(path if path.name == "single.safetensors" else path.parent))


def test_truncated_diffusers_safetensors(tmp_path, tiny_pixel_dir):  # noqa: F811
    m = tmp_path / "m"
    shutil.copytree(tiny_pixel_dir, m)
    weights = m / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(LatentStudioError, match="Could not load the diffusion model in .*truncated"):
        DiffusionEngine(str(m), device="cpu")


def test_non_utf8_config_and_card(tmp_path, tiny_g):
    save_gan(tmp_path / "m", tiny_g, card="# tiny\n")
    (tmp_path / "m" / "README.md").write_bytes(b"# caf\xe9 model\n")  # latin-1 card: shown, not fatal
    assert load_gan(str(tmp_path / "m")).card.startswith("# caf")
    (tmp_path / "m" / "config.json").write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(LatentStudioError, match="config.json' is not a readable UTF-8 text file"):
        load_gan(str(tmp_path / "m"))


def test_config_asking_for_a_huge_network_is_refused_before_allocating(tmp_path, tiny_g):
    """A few bytes of JSON must not allocate terabytes: shapes are compared on the meta device first."""
    save_gan(tmp_path / "m", tiny_g)
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["generator"].update(channel_max=1_000_000, channel_base=1_000_000_000, w_dim=1_000_000)
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(LatentStudioError, match="has shape .* the config expects|do not fit"):
        load_gan(str(tmp_path / "m"))
    config["generator"]["z_dim"] = -5
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.raises(LatentStudioError, match="Invalid stylegan2 generator config"):
        load_gan(str(tmp_path / "m"))


# ------------------------------------------------------------------------------- hub while offline

@pytest.mark.parametrize("spec", ["hf:latent-studio-tests/none:G.pkl", "hf:latent-studio-tests/none",
                                  "latent-studio-tests/none"])
def test_gan_hub_source_offline_says_how_to_pass_a_local_path(monkeypatch, spec):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    msg = str(pytest.raises(LatentStudioError, load_gan, spec).value)
    assert f"Could not download {spec!r}" in msg and "pass the local path" in msg
    assert "hf download latent-studio-tests/none" in msg


def test_cli_hub_source_offline_is_one_line(monkeypatch, tmp_path, capsys):
    from engines.cli.main import main
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["sample", "--model", "hf:latent-studio-tests/none", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: Could not download 'hf:latent-studio-tests/none'")
    assert "local path" in err


# --------------------------------------------------------------------- paths outside the source

@pytest.mark.parametrize("filename", ["../../etc/passwd", "/etc/passwd", "a/../../b.pkl", "..", "C:\\x.pkl"])
def test_hub_file_name_cannot_leave_the_repository(monkeypatch, filename):
    import huggingface_hub
    for fn in ("snapshot_download", "hf_hub_download"):
        monkeypatch.setattr(huggingface_hub, fn, lambda *a, **k: pytest.fail("tried to download"))
    with pytest.raises(LatentStudioError, match="name a file inside the repository"):
        resolve_source(f"hf:org/repo:{filename}")


def test_gan_config_fields_never_name_files(tmp_path, tiny_g, tiny_dcgan):
    """Our format reads fixed names inside the folder; path-like config fields are ignored, not followed."""
    save_gan(tmp_path / "secret", tiny_dcgan[0])  # a valid model right next door
    (tmp_path / "secret.md").write_text("SECRET CARD")
    save_gan(tmp_path / "m", tiny_g, card="# tiny\n")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config.update(weights="../secret/model.safetensors", model="/etc/passwd", card="../secret.md",
                  directions="../../", config="../secret/config.json")
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    bundle = load_gan(str(tmp_path / "m"))
    assert bundle.arch == "stylegan2" and bundle.card == "# tiny\n" and bundle.folder.resolve() == (tmp_path / "m").resolve()


def test_direction_names_cannot_leave_the_directions_folder(tmp_path, tiny_g, monkeypatch):
    from engines.stylegan import editing
    from engines.stylegan.editing import load_direction
    from engines.stylegan.engine import GanEngine
    save_gan(tmp_path / "m", tiny_g)
    engine = GanEngine(str(tmp_path / "m"), device="cpu")
    found = engine.directions("sefa", k=1)[0]
    editing.save_direction(found, tmp_path / "m" / "directions")
    shutil.copy(tmp_path / "m" / "directions" / f"{found.name}.npz", tmp_path / "m" / "outside.npz")
    monkeypatch.chdir(tmp_path / "m" / "directions")  # so '../outside' does not exist relative to the cwd either
    assert load_direction(found.name, engine).name == found.name
    monkeypatch.chdir(tmp_path)
    for name in ("../outside", "../../m/outside", str(tmp_path / "nope")):
        with pytest.raises(LatentStudioError, match="Unknown direction"):
            load_direction(name, engine)
    (tmp_path / "m" / "directions" / "sneaky.npz").symlink_to(tmp_path / "m" / "outside.npz")
    with pytest.raises(LatentStudioError, match="points outside"):        # a symlinked name is not followed out
        load_direction("sneaky", engine)


@pytest.mark.parametrize("key", ["../unet", "/abs", "..", "sub/unet", "a\\b"])
def test_diffusers_component_names_cannot_leave_the_folder(tmp_path, tiny_pixel_dir, key):  # noqa: F811
    m = tmp_path / "m"
    shutil.copytree(tiny_pixel_dir, m)
    index = json.loads((m / "model_index.json").read_text())
    (m / "model_index.json").write_text(json.dumps({**index, key: ["diffusers", "UNet2DModel"]}))
    with pytest.raises(LatentStudioError, match="component names must be plain folder names"):
        DiffusionEngine(str(m), device="cpu")


def test_tokenizer_config_cannot_point_at_files_outside(tmp_path, tiny_sd_dir):  # noqa: F811
    """tokenizer_config.json naming vocab/merges files elsewhere: the folder's own files are used."""
    m = tmp_path / "m"
    shutil.copytree(tiny_sd_dir, m)
    (tmp_path / "vocab.json").write_text(json.dumps({"OUTSIDE": 0, "<|endoftext|>": 1, "<|startoftext|>": 2}))
    (tmp_path / "merges.txt").write_text("#version: 0.2\n")
    config_path = m / "tokenizer" / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(vocab_file=str(tmp_path / "vocab.json"), merges_file="../../merges.txt")
    config_path.write_text(json.dumps(config))
    engine = DiffusionEngine(str(m), device="cpu")
    vocab = engine.backend.img2img.tokenizer.get_vocab()
    assert "OUTSIDE" not in vocab and len(vocab) > 3


def test_a_plausible_config_is_built_directly_and_a_huge_one_is_checked_on_meta_first():
    """The shipped model loads without the meta pass (whose Python meta kernels import torch._dynamo, 1.1 s of every
    load); a config whose size fields could ask for more than DIRECT_BUILD_WEIGHTS numbers still gets it."""
    import subprocess
    import sys
    from engines.stylegan.checkpoints import DIRECT_BUILD_WEIGHTS, weights_bound
    code = ("import sys; from engines.stylegan.engine import GanEngine; GanEngine('default', device='cpu'); "
            "print('torch._dynamo' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
    assert weights_bound("stylegan2", "generator", {"img_resolution": 1024}) < DIRECT_BUILD_WEIGHTS  # config-f size
    assert weights_bound("dcgan", "generator", {"img_resolution": 64}) < DIRECT_BUILD_WEIGHTS
    huge = {"channel_max": 1_000_000, "channel_base": 1_000_000_000, "w_dim": 1_000_000}
    assert weights_bound("stylegan2", "generator", huge) > DIRECT_BUILD_WEIGHTS
    assert weights_bound("stylegan2", "generator", {"channel_max": "lots"}) == float("inf")
