"""Loading diffusion models: formats detected from model_index.json, broken folders → clear errors."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from engines.base import LatentStudioError
from engines.diffusion import DiffusionEngine


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def load_error(path) -> str:
    with pytest.raises(LatentStudioError) as exc:
        DiffusionEngine(str(path), device="cpu")
    return str(exc.value)


def test_missing_model_index(tmp_path):
    (tmp_path / "m").mkdir()
    msg = load_error(tmp_path / "m")
    assert "no model_index.json" in msg and str(tmp_path / "m") in msg


def test_missing_path_and_single_file(tmp_path):
    assert "No such file or folder" in load_error(tmp_path / "nope" / "model")
    (tmp_path / "model.safetensors").write_bytes(b"x")
    assert "not a diffusers model folder" in load_error(tmp_path / "model.safetensors")


def test_bad_json_and_wrong_class(tmp_path, tiny_pixel_dir):
    m = copy(tiny_pixel_dir, tmp_path / "m")
    (m / "model_index.json").write_text("{not json")
    assert "is not valid JSON" in load_error(m)
    index = json.loads((tiny_pixel_dir / "model_index.json").read_text())
    (m / "model_index.json").write_text(json.dumps({**index, "_class_name": "FluxPipeline"}))
    msg = load_error(m)
    assert "FluxPipeline" in msg and "StableDiffusionPipeline" in msg and str(m) in msg


def test_component_from_other_library_is_refused(tmp_path, tiny_pixel_dir):
    m = copy(tiny_pixel_dir, tmp_path / "m")
    index = json.loads((m / "model_index.json").read_text())
    (m / "model_index.json").write_text(json.dumps({**index, "unet": ["my_package", "EvilUNet"]}))
    assert "only diffusers and transformers components" in load_error(m)


def test_missing_component_folder_and_weights(tmp_path, tiny_sd_dir):
    m = copy(tiny_sd_dir, tmp_path / "m")
    shutil.rmtree(m / "vae")
    assert "lists 'vae' but there is no vae/ folder" in load_error(m)
    m2 = copy(tiny_sd_dir, tmp_path / "m2")
    (m2 / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    assert "unet/ has no weights" in load_error(m2)


@pytest.mark.parametrize("which", ["pixel", "sd"])
def test_truncated_safetensors(tmp_path, tiny_pixel_dir, tiny_sd_dir, which):
    m = copy(tiny_pixel_dir if which == "pixel" else tiny_sd_dir, tmp_path / "m")
    weights = m / "unet" / "diffusion_pytorch_model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])
    msg = load_error(m)
    assert msg.startswith("Could not load the diffusion model in") and str(m) in msg and "truncated" in msg


def test_wrong_weights_for_the_config(tmp_path, tiny_pixel_dir):
    m = copy(tiny_pixel_dir, tmp_path / "m")
    config = json.loads((m / "unet" / "config.json").read_text())
    (m / "unet" / "config.json").write_text(json.dumps({**config, "block_out_channels": [32, 64]}))
    assert "Could not load the diffusion model in" in load_error(m)


def test_inconsistent_class_names(tmp_path, tiny_pixel_dir):
    m = copy(tiny_pixel_dir, tmp_path / "m")
    index = json.loads((m / "model_index.json").read_text())
    (m / "model_index.json").write_text(json.dumps({**index, "class_names": ["cat"]}))
    msg = load_error(m)
    assert "3 class embeddings but 1 class names" in msg


def test_hub_id_offline_names_the_source(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    msg = load_error("hf:nobody/no-such-diffusion-model")
    assert "nobody/no-such-diffusion-model" in msg and "local path" in msg
