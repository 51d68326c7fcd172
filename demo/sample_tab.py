"""The Sample tab: draw images from the loaded GAN with a seed and a truncation."""
from __future__ import annotations

import gradio as gr

from engines.stylegan.engine import GanEngine

from .errors import user_errors


def build(engine: GanEngine) -> None:
    with gr.Tab("Sample"):
        gr.Markdown(f"**{engine.describe().name}** — {engine.describe().notes or engine.describe().source}")
        with gr.Row():
            n = gr.Slider(1, 36, value=9, step=1, label="Images")
            seed = gr.Number(value=0, precision=0, label="Seed")
            psi = gr.Slider(0.0, 1.5, value=0.7, step=0.05, label="Truncation ψ")
        run = gr.Button("Sample", variant="primary")
        gallery = gr.Gallery(label="Samples", columns=6, height="auto")

        @user_errors
        def sample(count: float, seed_value: float, truncation: float):
            return engine.sample(int(count), int(seed_value or 0), truncation=float(truncation))

        run.click(sample, [n, seed, psi], gallery, api_name="sample")
