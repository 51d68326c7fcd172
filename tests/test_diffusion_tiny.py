"""Session fixtures with the tiny diffusion models of `engines.diffusion.tiny`, and checks of them.

The tiny SD (UNet2DCondition, AutoencoderKL, CLIP text encoder, a byte-level BPE CLIPTokenizer from
vocab.json + merges.txt) and our tiny pixel pipeline are saved with ``save_pretrained`` into tmp dirs
and loaded back through the engine's real loading path. Other test modules import the fixtures.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from engines.diffusion import ClassConditionalPixelPipeline, DiffusionEngine
from engines.diffusion.tiny import (TINY_CLASSES, TINY_PIXEL_UNET, build_tiny_sd, tiny_pixel_pipeline,  # noqa: F401
                                    write_tokenizer_files)

from conftest import guide_image, pixel_engine  # noqa: F401 (helpers; the fixtures come from conftest)

CLASSES = list(TINY_CLASSES)


# --------------------------------------------------------------------------------------------
# Checks of the builders and of saving / loading our pipeline

def test_tokenizer_from_local_files(tmp_path):
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer.from_pretrained(str(write_tokenizer_files(tmp_path)))
    ids = tok("a cat").input_ids
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert tok.convert_ids_to_tokens(ids[1:-1]) == ["a</w>", "cat</w>"]


def test_pixel_pipeline_save_load_round_trip(tiny_pixel_dir):
    index = json.loads((tiny_pixel_dir / "model_index.json").read_text())
    assert index["_class_name"] == "ClassConditionalPixelPipeline" and index["class_names"] == CLASSES
    assert (tiny_pixel_dir / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    loaded = ClassConditionalPixelPipeline.from_pretrained(str(tiny_pixel_dir))
    assert loaded.classes == CLASSES and loaded.null_class_id == 2
    for a, b in zip(tiny_pixel_pipeline().unet.state_dict().values(), loaded.unet.state_dict().values()):
        assert torch.equal(a, b)
    # the same outputs from the in-memory model and the saved one, through the engine
    guide = guide_image()
    a = pixel_engine().from_guide(guide, seed=3, steps=6, strength=0.7, class_name="grumpy cat")
    b = DiffusionEngine(str(tiny_pixel_dir), device="cpu").from_guide(guide, seed=3, steps=6, strength=0.7,
                                                                      class_name="grumpy cat")
    assert np.array_equal(np.asarray(a.images[0]), np.asarray(b.images[0]))


def test_pipeline_call_samples_like_a_diffusers_pipeline():
    pipe = tiny_pixel_pipeline()
    out = pipe(class_labels=["cat", "grumpy cat"], num_inference_steps=3,
               generator=[torch.Generator().manual_seed(i) for i in range(2)])
    assert len(out.images) == 2 and out.images[0].size == (16, 16)
    again = pipe(class_labels=["cat"], num_inference_steps=3, generator=[torch.Generator().manual_seed(0)])
    assert np.array_equal(np.asarray(out.images[0]), np.asarray(again.images[0]))


def test_pipeline_refuses_inconsistent_classes():
    from diffusers import DDPMScheduler, UNet2DModel
    unet = UNet2DModel(**{**TINY_PIXEL_UNET, "num_class_embeds": 5})
    with pytest.raises(ValueError, match="5 class embeddings but 2 class names"):
        ClassConditionalPixelPipeline(unet, DDPMScheduler(), class_names=CLASSES)


def test_unconditional_ddpm_pipeline_folder_loads(tmp_path):
    from diffusers import DDPMPipeline, DDPMScheduler, UNet2DModel
    torch.manual_seed(0)
    unet = UNet2DModel(**{**TINY_PIXEL_UNET, "num_class_embeds": None})
    DDPMPipeline(unet=unet, scheduler=DDPMScheduler(num_train_timesteps=100)).save_pretrained(tmp_path / "ddpm")
    engine = DiffusionEngine(str(tmp_path / "ddpm"), device="cpu")
    assert engine.classes == [] and engine.describe().conditioning == "unconditional"
    result = engine.from_guide(guide_image(), seed=0, steps=4, t0=50)
    assert result.options["guidance"] == 1.0 and result.options["cfg"] is False
    assert result.options["denoise_steps"] == 2
