"""Assemble the Gradio Blocks from the tab modules."""
from __future__ import annotations

import gradio as gr

from engines.stylegan.engine import GanEngine

from . import sample_tab


def build_demo(gan: GanEngine) -> gr.Blocks:
    """The whole UI over already-loaded engines (the demo never loads models itself)."""
    with gr.Blocks(title="Latent Studio") as demo:
        gr.Markdown("# Latent Studio\nEdit images on the manifold of a generative model.")
        sample_tab.build(gan)
    demo.queue(default_concurrency_limit=2)
    return demo
