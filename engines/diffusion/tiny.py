"""Tiny diffusion models built from configs, offline: for tests and benchmarks, never for images.

- `tiny_pixel_pipeline`: our `ClassConditionalPixelPipeline` at 16×16 ("cat", "grumpy cat" + null).
- `build_tiny_sd`: a real ``StableDiffusionImg2ImgPipeline`` with a tiny UNet2DCondition, AutoencoderKL
  (2 levels: 2× downsampling), CLIP text encoder and a byte-level BPE ``CLIPTokenizer`` written from
  ``vocab.json`` + ``merges.txt`` — every code path of a full SD checkpoint, a few MB, no download.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from .pixel_pipeline import ClassConditionalPixelPipeline, build_pixel_pipeline

TINY_PIXEL_UNET: dict[str, Any] = dict(
    sample_size=16, in_channels=3, out_channels=3, block_out_channels=(16, 32), layers_per_block=1,
    down_block_types=("DownBlock2D", "AttnDownBlock2D"), up_block_types=("AttnUpBlock2D", "UpBlock2D"),
    norm_num_groups=8, attention_head_dim=8, num_class_embeds=3)
TINY_CLASSES = ("cat", "grumpy cat")

#: Stable Diffusion 1.x's noise schedule (scaled-linear betas, 1000 steps, offset 1).
SD_SCHEDULE: dict[str, Any] = dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                   clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def tiny_pixel_pipeline(seed: int = 0) -> ClassConditionalPixelPipeline:
    return build_pixel_pipeline(TINY_PIXEL_UNET, class_names=TINY_CLASSES, seed=seed)


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's byte → printable-character table (the alphabet of a byte-level BPE)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, extra = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
    return [chr(c) for c in cs]


def write_tokenizer_files(folder: Path) -> Path:
    """vocab.json + merges.txt of a tiny byte-level BPE (every byte, with and without </w>, a few merges)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for ch in _bytes_to_unicode():
            vocab[ch + suffix] = len(vocab)
    merges = ["c a", "ca t</w>", "d o", "do g</w>"]
    for merge in merges:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return folder


def build_tiny_sd(tokenizer_dir: Path, *, sample_size: int = 16, seed: int = 0) -> Any:
    """A tiny SD img2img pipeline (native resolution ``2 · sample_size``); the tokenizer files go to ``tokenizer_dir``."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(str(write_tokenizer_files(tokenizer_dir)), model_max_length=77)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=1000, hidden_size=32, intermediate_size=37,
                                                    num_hidden_layers=2, num_attention_heads=4,
                                                    max_position_embeddings=77, projection_dim=32,
                                                    bos_token_id=0, eos_token_id=1, pad_token_id=1))
        unet = UNet2DConditionModel(sample_size=sample_size, in_channels=4, out_channels=4,
                                    block_out_channels=(32, 64), layers_per_block=1,
                                    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
                                    norm_num_groups=8, attention_head_dim=4)
        vae = AutoencoderKL(block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4,
                            down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
                            norm_num_groups=8, sample_size=2 * sample_size)
    return StableDiffusionImg2ImgPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                          scheduler=DDIMScheduler(**SD_SCHEDULE), safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
