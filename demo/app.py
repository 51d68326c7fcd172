"""Assemble the Gradio Blocks from the tab modules and wire the tabs to each other.

The Invert tab's latent can be sent to Interpolate (as A or B) and to Edit without re-uploading; a
model loaded in the Models tab appears in every tab's model picker.
"""
from __future__ import annotations

from typing import Optional, Union

import gradio as gr

from engines.diffusion.engine import DiffusionEngine
from engines.stylegan.engine import GanEngine

from . import (compare_tab, edit_tab, interpolate_tab, invert_tab, models_tab, sample_tab, scribble_tab,
               sdedit_tab)
from .registry import Registry

#: Uploads larger than this are refused by the server before any decoding.
MAX_FILE_SIZE = "20mb"


def build_demo(models: Union[Registry, GanEngine], diffusion: Optional[DiffusionEngine] = None, *,
               concurrency: int = 1, max_queue: int = 32) -> gr.Blocks:
    """The whole UI over a `Registry` (or one GAN engine, plus an optional diffusion engine).

    ``concurrency``: engine jobs that run at once (all tabs share the slot; the rest wait in a queue of
    at most ``max_queue``). One is right for a CPU; a big GPU can take more.
    """
    registry = models if isinstance(models, Registry) else Registry(models, diffusion, device=str(models.device),
                                                                     gan_label=f"{models.describe().name} · loaded")
    with gr.Blocks(title="Latent Studio") as demo:
        gr.Markdown("# Latent Studio\nEdit images on the manifold of a generative model: a **GAN** (StyleGAN2 or "
                    "DCGAN) and a **diffusion model** (SDEdit). Results are downloadable; long jobs can be stopped.")
        with gr.Tabs() as tabs:
            inv = invert_tab.build(registry)
            interp = interpolate_tab.build(registry)
            scribble_model = scribble_tab.build(registry)
            edit = edit_tab.build(registry)
            sd = sdedit_tab.build(registry)
            compare_model = compare_tab.build(registry)
            sample_model = sample_tab.build(registry)
            models_tab.build(registry, [inv.model, interp.model, scribble_model, edit.model, compare_model, sample_model],
                             [sd.class_name, sd.guidance, sd.steps, sd.model_info],
                             lambda: sdedit_tab.conditioning_updates(registry))

        def to_interpolate(latent, model):
            return latent, model, gr.Tabs(selected="interpolate")

        inv.to_a.click(to_interpolate, [inv.latent, inv.model], [interp.latent_a, interp.model, tabs], api_visibility="private")
        inv.to_b.click(to_interpolate, [inv.latent, inv.model], [interp.latent_b, interp.model, tabs], api_visibility="private")
        inv.to_edit.click(lambda latent, model: (latent, model, "Latent file", gr.Tabs(selected="edit")),
                          [inv.latent, inv.model], [edit.latent, edit.model, edit.start, tabs], api_visibility="private")
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return demo
