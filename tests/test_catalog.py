"""Known models by name: the catalogue, resolving names through the caches (never the network here),
turbo defaults, the zero-step guard, and the CLI / Models tab listings."""
from __future__ import annotations

import json
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import torch

from engines import catalog, sources
from engines.base import LatentStudioError
from engines.cli.main import main
from engines.diffusion import DiffusionEngine
from engines.diffusion.options import SDEditOptions
from engines.diffusion.strength import min_steps, steps_run
from engines.sources import resolve_source
from conftest import guide_image

GANS = {"ffhq": 1024, "afhqcat": 512, "afhqdog": 512, "afhqwild": 512, "metfaces": 1024}
DIFFUSION = {"stable-diffusion-v1-5": "stable-diffusion-v1-5/stable-diffusion-v1-5", "sd-turbo": "stabilityai/sd-turbo"}


# ------------------------------------------------------------------ the catalogue
def test_entries_are_well_formed():
    assert set(catalog.names("gan")) == set(GANS) and set(catalog.names("diffusion")) == set(DIFFUSION)
    assert "sdxl-turbo" not in catalog.CATALOG  # SDXL pipelines are not something the SD backend runs
    for name, m in catalog.CATALOG.items():
        assert m.name == name == name.lower().strip() and m.kind in ("gan", "diffusion")
        assert m.size_mb > 0 and m.size.startswith("about ") and m.licence and m.title
        assert sources.plain_name(name) and not Path(name).suffix  # never mistaken for a file or a hub id
        if m.kind == "gan":
            assert m.source == f"https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/{name}.pkl"
            assert m.resolution == GANS[name] and m.is_url and m.filename == f"{name}.pkl" and m.defaults() == ""
        else:
            assert m.source == DIFFUSION[name] and sources._HUB_ID.match(m.source) and not m.is_url
            assert m.resolution == 512 and m.steps and m.guidance is not None and m.files
            assert "model_index.json" in m.files and not any(".ckpt" in f or "fp16" in f for f in m.files)
    turbo = catalog.lookup("sd-turbo")
    assert turbo.turbo and turbo.guidance == 0 and 1 <= turbo.steps <= 4 and "turbo" in turbo.defaults()
    assert not catalog.lookup("stable-diffusion-v1-5").turbo
    assert catalog.lookup(" FFHQ ") is catalog.CATALOG["ffhq"] and catalog.lookup("ffhq2") is None
    assert catalog.known("stylegan2") == catalog.known("gan") == catalog.known("dcgan")


def test_looks_turbo():
    assert catalog.looks_turbo("stabilityai/sd-turbo") and catalog.looks_turbo(None, "/models/SD-Turbo/")
    assert not catalog.looks_turbo("stable-diffusion-v1-5/stable-diffusion-v1-5", "/turbo/runs/sd15", None)


# ------------------------------------------------------------------ resolving names (no network)
@pytest.fixture
def hub_dir(monkeypatch, tmp_path):
    """torch.hub's cache in tmp, and any download attempt fails like an offline machine."""
    def offline(url, dst, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    return tmp_path / "hub"


def test_known_gan_offline_is_one_line_naming_source_and_local_copy(hub_dir):
    with pytest.raises(LatentStudioError) as err:
        resolve_source("ffhq", kind="stylegan2")
    msg = str(err.value)
    assert "\n" not in msg and "'ffhq'" in msg and catalog.CATALOG["ffhq"].source in msg
    assert "/path/to/ffhq.pkl: the CLI's --model, the app's source field" in msg and str(hub_dir / "checkpoints" / "ffhq.pkl") in msg
    assert "about 364 MB" in msg
    assert isinstance(err.value.__cause__, urllib.error.URLError)
    assert not (hub_dir / "checkpoints" / "ffhq.pkl").exists()


def test_known_gan_offline_through_the_cli(hub_dir, tmp_path, capsys):
    assert main(["sample", "--model", "afhqcat", "--n", "1", "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ") and "afhqcat.pkl" in err and "--model" in err


def test_known_gan_in_the_torch_hub_cache_resolves_without_downloading(hub_dir, tiny_g, tiny_d):
    from official_format import write_official_pkl

    from engines.stylegan.checkpoints import load_gan
    cached = hub_dir / "checkpoints" / "afhqdog.pkl"
    cached.parent.mkdir(parents=True)
    write_official_pkl(cached, tiny_g, tiny_d)
    res = resolve_source("afhqdog", kind="stylegan2")  # the download fixture would raise
    assert res.kind == "url" and res.path == cached and res.name == "afhqdog" and res.spec == "afhqdog"
    bundle = load_gan("afhqdog")
    assert bundle.G.img_resolution == 32 and bundle.source == "afhqdog"


def test_local_path_wins_over_a_known_name(hub_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metfaces").mkdir()
    res = resolve_source("metfaces", kind="stylegan2")
    assert res.kind == "local" and res.path == (tmp_path / "metfaces").resolve() and res.name is None


def test_kind_mismatch_and_download_false(hub_dir, monkeypatch):
    with pytest.raises(LatentStudioError, match="'sd-turbo' is a diffusion model .*--diffusion"):
        resolve_source("sd-turbo", kind="stylegan2")
    with pytest.raises(LatentStudioError, match="'ffhq' is a GAN .*not a diffusion model"):
        resolve_source("ffhq", kind="diffusion")
    import huggingface_hub
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("downloaded"))
    assert resolve_source("ffhq", "dcgan", download=False).path is None
    res = resolve_source("sd-turbo", "diffusion", download=False)
    assert res.path is None and res.repo_id == "stabilityai/sd-turbo" and res.name == "sd-turbo"
    with pytest.raises(LatentStudioError, match="Unknown model source 'ffhq2'"):  # unknown names: today's errors
        resolve_source("ffhq2")


def test_known_diffusion_offline_is_one_line(monkeypatch, tmp_path):
    import huggingface_hub
    from huggingface_hub import constants

    real = huggingface_hub.snapshot_download
    calls = []

    def cache_only(repo_id, **kwargs):  # the real function, but never allowed near the network
        calls.append(kwargs)
        assert kwargs.get("local_files_only") is True
        return real(repo_id, **kwargs)

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))  # surely empty
    monkeypatch.setattr(huggingface_hub, "snapshot_download", cache_only)
    with pytest.raises(LatentStudioError) as err:
        resolve_source("sd-turbo", kind="diffusion")
    msg = str(err.value)
    assert "\n" not in msg and "'sd-turbo'" in msg and "'stabilityai/sd-turbo'" in msg and "--model DIR" in msg
    assert "hf download stabilityai/sd-turbo --include 'model_index.json'" in msg
    assert calls and calls[0]["allow_patterns"] == list(catalog.DIFFUSERS_FILES)


# ------------------------------------------------------------------ turbo defaults
@pytest.fixture
def turbo_engine(monkeypatch, tiny_sd_dir, tmp_path):
    """DiffusionEngine("sd-turbo") where the "download" is the tiny SD from the Hub cache."""
    import huggingface_hub
    snapshot = shutil.copytree(tiny_sd_dir, tmp_path / "snapshot")
    asked = []
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download",
                        lambda repo_id, **kw: asked.append((repo_id, kw.get("allow_patterns"))) or str(snapshot))
    engine = DiffusionEngine("sd-turbo", device="cpu")
    assert asked == [("stabilityai/sd-turbo", list(catalog.DIFFUSERS_FILES))]
    return engine


def count_unet_calls(engine, fn):
    calls = []
    hook = engine.backend.img2img.unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    try:
        return fn(), calls
    finally:
        hook.remove()


def test_turbo_defaults_apply_unless_set(turbo_engine):
    e = turbo_engine
    assert e.turbo and e.default_guidance == 0.0 and e.default_steps == 4
    d = e.describe()
    assert "turbo" in d.name and "guidance 0" in d.notes and "4 steps" in d.notes and "SD-Turbo" in d.notes
    result, calls = count_unet_calls(e, lambda: e.from_guide(guide_image(size=(32, 32)), seed=0, prompt="a cat"))
    o = result.options
    assert o["steps"] == 4 and o["guidance"] == 0.0 and o["cfg"] is False and o["turbo"] is True
    assert o["denoise_steps"] == int(4 * 0.6) == len(calls) and calls == [1, 1]  # no unconditional half
    assert o["model_defaults"] == ["steps", "guidance"]
    result, calls = count_unet_calls(e, lambda: e.from_guide(guide_image(size=(32, 32)), seed=0, steps=10,
                                                             guidance=3.0, strength=0.5))
    assert result.options["steps"] == 10 and result.options["guidance"] == 3.0 and calls == [2] * 5
    assert result.options["model_defaults"] == []
    images = e.sample(1, seed=0)  # text2img: all 4 default steps
    assert len(images) == 1 and images[0].size == (32, 32)


def test_turbo_from_the_folder_name_and_plain_sd_defaults(tiny_sd_dir, tmp_path):
    local = DiffusionEngine(str(shutil.copytree(tiny_sd_dir, tmp_path / "my-sd-turbo")), device="cpu")
    assert local.turbo and local.default_steps == 4 and local.default_guidance == 0.0
    plain = DiffusionEngine(str(tiny_sd_dir), device="cpu")
    assert not plain.turbo and plain.default_steps == 50 and plain.default_guidance == 7.5
    assert "turbo" not in plain.describe().name and "turbo" not in plain.describe().notes


# ------------------------------------------------------------------ the zero-step guard
@pytest.mark.parametrize("strength,steps,need", [(0.2, 4, 5), (0.05, 10, 20), (0.29, 3, 4), (0.7, 1, 2)])
def test_zero_steps_are_refused_with_the_minimum(strength, steps, need):
    assert min_steps(strength) == need and steps_run(need, strength) == 1 and steps_run(need - 1, strength) == 0
    with pytest.raises(LatentStudioError) as err:
        SDEditOptions(steps=steps, strength=strength).check()
    msg = str(err.value)
    assert f"Strength {strength:g}" in msg and f"{steps} steps" in msg and f"at least {need} steps" in msg
    assert "runs no denoising step" in msg and "\n" not in msg
    SDEditOptions(steps=need, strength=strength).check()  # the suggested fix works


def test_turbo_default_steps_with_a_low_strength_is_refused(turbo_engine):
    with pytest.raises(LatentStudioError, match=r"Strength 0\.2 with 4 steps .*at least 5 steps"):
        turbo_engine.from_guide(guide_image(), seed=0, strength=0.2)


def test_backends_refuse_zero_steps_even_when_called_directly(turbo_engine):
    """Below the engine's option check: diffusers' img2img and our pipeline must not run an empty schedule."""
    from engines.diffusion.pixel_pipeline import build_pixel_pipeline
    opts = SDEditOptions(steps=4, strength=0.2, frames=0)
    with pytest.raises(LatentStudioError, match="at least 5 steps"):
        turbo_engine.backend.sdedit(guide_image(size=(32, 32)), None, opts, 0, None)
    pipe = build_pixel_pipeline()
    size = pipe.unet.config.sample_size
    with pytest.raises(ValueError, match="at least 20 steps"):  # core code: diffusers' exception type
        pipe(image=torch.zeros(1, 3, size, size), class_labels="cat", guidance_scale=1.0, num_inference_steps=10,
             strength=0.05)


# ------------------------------------------------------------------ the loader takes SD v1.x's safety checker
def test_stable_diffusion_safety_checker_component_loads(tiny_sd_dir, tmp_path):
    """SD v1.x folders name their safety checker ["stable_diffusion", "StableDiffusionSafetyChecker"]."""
    from diffusers import StableDiffusionImg2ImgPipeline
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    base = StableDiffusionImg2ImgPipeline.from_pretrained(str(tiny_sd_dir))
    config = CLIPConfig(text_config={"vocab_size": 1000, "hidden_size": 32, "intermediate_size": 37,
                                     "num_hidden_layers": 1, "num_attention_heads": 4},
                        vision_config={"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 1,
                                       "num_attention_heads": 4, "image_size": 32, "patch_size": 8},
                        projection_dim=32)
    pipe = StableDiffusionImg2ImgPipeline(**{**base.components, "safety_checker": StableDiffusionSafetyChecker(config),
                                             "feature_extractor": CLIPImageProcessor(size=32, crop_size=32)},
                                          requires_safety_checker=True)
    pipe.save_pretrained(tmp_path / "sd15-like")
    index = json.loads((tmp_path / "sd15-like" / "model_index.json").read_text())
    assert index["safety_checker"] == ["stable_diffusion", "StableDiffusionSafetyChecker"]
    engine = DiffusionEngine(str(tmp_path / "sd15-like"), device="cpu")
    result = engine.from_guide(guide_image(size=(32, 32)), seed=0, steps=2, strength=0.5)
    assert len(result.metrics["nsfw_content_detected"]) == 1 and np.isfinite(result.metrics["l2"][0])


# ------------------------------------------------------------------ listings
def test_cli_models_lists_names_resolution_and_size(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for m in catalog.known():
        assert m.name in out and m.source in out
    assert "1024 px" in out and "512 px" in out and "about 364 MB" in out and "4 steps, guidance 0 (turbo)" in out
    assert main(["models", "--kind", "gan", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list(GANS) and all(r["cached"] in ("yes", "no") for r in rows)


@pytest.mark.parametrize("argv,names", [(["sample", "--help"], GANS), (["sdedit", "--help"], DIFFUSION),
                                        (["compare", "--help"], {**GANS, **DIFFUSION}), (["--help"], ["models"])])
def test_help_lists_the_known_names(capsys, argv, names):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    for name in names:
        assert name in out
    if argv[0] != "--help":
        assert "px" in out and "about" in out


def test_models_tab_lists_the_known_names():
    gr = pytest.importorskip("gradio")
    from demo import models_tab
    text = models_tab.known_models()
    for m in catalog.known():
        assert f"`{m.name}`" in text and f"{m.resolution} px" in text and m.size in text

    class NoModels:  # the tab only asks the registry for what is loaded
        diffusion_source = "default"

        def loaded_gans(self):
            return {}

        def gan_labels(self):
            return []

        def diffusion(self):
            from engines.diffusion.engine import DiffusionEngine
            from engines.diffusion.pixel_pipeline import build_pixel_pipeline
            return DiffusionEngine.from_pipeline(build_pixel_pipeline(), device="cpu")

    with gr.Blocks() as blocks:
        models_tab.build(NoModels(), [], [], lambda: ())
    examples = [b for b in blocks.blocks.values() if isinstance(b, gr.Dataset)]
    samples = [row[0] for ex in examples for row in ex.samples]
    for name in catalog.names():
        assert name in samples
