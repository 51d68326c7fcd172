"""Assemble the Gradio Blocks from the tab modules and wire the tabs to each other.

The Invert tab's latent can be sent to Interpolate (as A or B) and to Edit without re-uploading, and so
can the image picked in the Sample gallery; a model loaded in the Models tab appears in every tab's model
picker; every finished run lands in this visit's history (`history`). `THEME` and `CSS` go to
``launch`` (where Gradio 6 takes them).
"""
from __future__ import annotations

from typing import Optional, Union

import gradio as gr

from engines.diffusion.engine import DiffusionEngine
from engines.stylegan.engine import GanEngine

from . import (compare_tab, drag_tab, edit_tab, history, interpolate_tab, invert_tab, models_tab, sample_tab, scribble_tab,
               sdedit_tab, translate_tab)
from . import mcp_tools
from .registry import Registry

#: Uploads larger than this are refused by the server before any decoding.
MAX_FILE_SIZE = "20mb"

THEME = gr.themes.Default()

#: Small model images shown large keep crisp pixels; tables keep their headers whole; status lines stand out.
CSS = """
#invert-result img, #scribble-result img, #compare-gan img, #compare-result img, .pixelated img,
#interpolate-result img, .gallery-item img, #history-gallery img { image-rendering: pixelated; }
.pixelated img { width: 100%; height: 100%; object-fit: contain; }
.strip img { min-height: 8em; }
#models-result th, #models-known th, #models-cards th { white-space: nowrap; word-break: keep-all; }
#models-result td, #models-known td, #models-cards td { word-break: normal; overflow-wrap: anywhere; }
#models-cards table { display: block; overflow-x: auto; }
.gan-picker input { text-overflow: ellipsis; min-width: 14em; }
.status-line { min-height: 1.5em; }
.status-line .error { display: none !important; }  /* the line itself says "Error: …" (and a toast): no pill over it */
.status-line .wrap { justify-content: flex-end !important; background: transparent !important; }
"""


def build_demo(models: Union[Registry, GanEngine], diffusion: Optional[DiffusionEngine] = None, *,
               concurrency: int = 1, max_queue: int = 32, mcp_server: bool = False) -> gr.Blocks:
    """The whole UI over a `Registry` (or one GAN engine, plus an optional diffusion engine).

    ``mcp_server``: the app also serves MCP tools (``app.py --mcp-server``): then the page's endpoints that a plain
    tool replaces (`mcp_tools.REPLACED`) are unlisted, so an agent sees each operation once. Otherwise they stay
    listed, so API clients (``gradio_client``) get their parameter list and defaults.

    ``concurrency``: engine jobs that run at once (all tabs share the slot; the rest wait in a queue of
    at most ``max_queue``). One is right for a CPU; a big GPU can take more.
    """
    registry = models if isinstance(models, Registry) else Registry(models, diffusion, device=str(models.device),
                                                                     gan_label=f"{models.describe().name} · loaded")
    with gr.Blocks(title="Latent Studio") as demo:
        gr.Markdown("# Latent Studio\nEdit images on the manifold of a generative model: a **GAN** (StyleGAN2 or "
                    "DCGAN) and a **diffusion model** (SDEdit). Results are downloadable; long jobs can be stopped "
                    "and keep what they had; this visit's results are in the history at the bottom.")
        with gr.Tabs() as tabs:
            inv = invert_tab.build(registry)
            interp = interpolate_tab.build(registry)
            scribble_model = scribble_tab.build(registry)
            edit = edit_tab.build(registry)
            sd = sdedit_tab.build(registry)
            translate_tab.build(registry)
            compare_model = compare_tab.build(registry)
            drag = drag_tab.build(registry)
            sample = sample_tab.build(registry)
            models_tab.build(registry, [inv.model, interp.model, scribble_model, edit.model, compare_model, drag.model,
                                        sample.model],
                             [sd.class_name, sd.guidance, sd.steps, sd.model_info],
                             lambda: sdedit_tab.conditioning_updates(registry))
        history.build()
        mcp_tools.build(registry)

        def to_interpolate(latent, model):
            return latent, model, gr.Tabs(selected="interpolate")

        def to_edit(latent, model):
            if not latent:
                raise gr.Error("Nothing to send yet: run it first (or pick an image in the Sample gallery).",
                               duration=6, print_exception=False)
            return latent, model, "Latent file", gr.Tabs(selected="edit")

        inv.to_a.click(to_interpolate, [inv.latent, inv.model], [interp.latent_a, interp.model, tabs], api_visibility="private")
        inv.to_b.click(to_interpolate, [inv.latent, inv.model], [interp.latent_b, interp.model, tabs], api_visibility="private")
        inv.to_edit.click(to_edit, [inv.latent, inv.model], [edit.latent, edit.model, edit.start, tabs],
                          api_visibility="private")
        sample.to_edit.click(to_edit, [sample.latent, sample.model], [edit.latent, edit.model, edit.start, tabs],
                             api_visibility="private")
        drag.to_edit.click(to_edit, [drag.latent, drag.model], [edit.latent, edit.model, edit.start, tabs],
                           api_visibility="private")
    if mcp_server:
        mcp_tools.hide_replaced(demo)
    demo.queue(default_concurrency_limit=concurrency, max_size=max_queue)
    return demo
