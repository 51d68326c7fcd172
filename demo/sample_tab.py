"""Sample: draw images from a GAN with a seed and a truncation (the quickest look at a model)."""
from __future__ import annotations

import gradio as gr

from . import common, inputs
from .errors import user_errors
from .gpu import gpu
from .registry import Registry


def build(registry: Registry) -> gr.Dropdown:
    with gr.Tab("Sample", id="sample"):
        with gr.Row():
            model = common.gan_dropdown(registry)
            model_class = common.class_dropdown(registry, model)
            n = gr.Slider(1, 36, value=9, step=1, label="Images")
            seed = common.seed_field()
            psi = gr.Slider(0.0, 1.5, value=0.7, step=0.05, label="Truncation ψ")
        run = gr.Button("Sample", variant="primary", elem_id="sample-run")
        gallery = gr.Gallery(format="png", label="Samples", columns=6, height="auto", elem_id="sample-result")
        gr.Examples([[9, 0, 0.7], [9, 1, 1.0]], inputs=[n, seed, psi], label="Examples", elem_id="sample-examples")

        @gpu
        @user_errors
        def sample(model_label, count, seed_value, truncation, class_label=None):
            engine = registry.gan(model_label, class_label)
            return engine.sample(inputs.whole(count, "Images", 1, 64), inputs.whole(seed_value, "Seed", 0, 2**31),
                                 truncation=inputs.real(truncation, "Truncation", 0, 2))

        run.click(sample, [model, n, seed, psi, model_class], gallery, api_name="sample", concurrency_id="engines")
    return model
