"""Sample: draw images from a GAN with a seed and a truncation (the quickest look at a model); pick one in the
gallery and send its latent to Edit."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr
import torch

from engines.base import LatentStudioError

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry


@dataclass
class SampleTab:
    model: gr.Dropdown
    latent: gr.State  # the .npz path of the picked sample ("" until one is picked)
    to_edit: gr.Button


@torch.no_grad()
def sample_latent(engine, count: int, seed: int, index: int, truncation: float) -> dict:
    """The latent record of image ``index`` of ``engine.sample(count, seed, truncation=…)``: its w (truncated
    as the sample was), or its z for a model without w (a DCGAN)."""
    if not 0 <= index < count:
        raise LatentStudioError(f"Pick one of the {count} samples (got image {index + 1}).")
    z = engine.random_z(count, seed)[index:index + 1]
    if "w" not in engine.spaces:
        return engine.latent_record(z, "z")
    return engine.latent_record(engine.G.mapping(z, truncation_psi=truncation)[:, 0], "w")


SAMPLE_MAX = 64  # images per grid


def build(registry: Registry) -> SampleTab:
    with gr.Tab("Sample", id="sample"):
        with gr.Row():
            model, model_class = common.gan_picker(registry)
            # a number, not a slider: a slider's range would quietly clamp a larger count; the check below names it
            n = gr.Number(value=9, precision=0, label="Images", info=f"1 to {SAMPLE_MAX}", min_width=120)
            seed = common.seed_field()
            psi = gr.Slider(0.0, 1.5, value=0.7, step=0.05, label="Truncation ψ")
        run = gr.Button("Sample", variant="primary", elem_id="sample-run")
        gallery = gr.Gallery(format="png", interactive=False, label="Samples (click one to pick it)", columns=6, height="auto",
                             elem_id="sample-result")
        with gr.Row():
            picked = gr.Markdown("Click a sample to edit it.", elem_id="sample-picked")
            to_edit = gr.Button("Send the picked sample to Edit", size="sm", elem_id="sample-to-edit")
        gr.Examples([[9, 0, 0.7], [9, 1, 1.0]], inputs=[n, seed, psi], label="Examples", elem_id="sample-examples")
        used = gr.State({})      # the settings of the samples on show
        latent = gr.State("")    # the picked sample's latent file

        @gpu(durations.sample)
        @user_errors
        def sample(model_label, count, seed_value, truncation, class_label=None):
            """Draw images from a GAN.

            Args:
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                count: how many images (1-64, `SAMPLE_MAX`).
                seed_value: random seed (0-2147483648); the same seed gives the same images.
                truncation: truncation ψ (0-2): lower is more typical, higher more varied.
                class_label: class of a class-conditional model (None otherwise).
            Returns:
                the images.
            """
            engine = registry.gan(model_label, class_label)
            count = inputs.whole(count, "Images", 1, SAMPLE_MAX)
            seed_value = inputs.whole(seed_value, "Seed", 0, common.SEED_MAX)
            truncation = inputs.real(truncation, "Truncation", 0, 2)
            images = engine.sample(count, seed_value, truncation=truncation)
            settings = dict(model=model_label, class_label=class_label, count=count, seed=seed_value, psi=truncation)
            return [common.big(im) for im in images], settings

        @user_errors
        def pick(settings, evt: gr.SelectData):
            if not settings:
                return gr.skip()  # nothing on show to pick from: both outputs stay
            engine = registry.gan(settings["model"], settings["class_label"])
            record = sample_latent(engine, settings["count"], settings["seed"], evt.index, settings["psi"])
            path = outputs.save_latent(record, "sample", f"sample_{settings['seed']}_{evt.index + 1}.npz")
            return (f"Picked **image {evt.index + 1}** (seed {settings['seed']}, ψ {settings['psi']:g}).", path)

        event = run.click(sample, [model, n, seed, psi, model_class], [gallery, used], api_name="sample",
                          concurrency_id="engines", show_progress_on=[gallery])
        gallery.select(pick, used, [picked, latent], api_visibility="private")
        # a new grid: the pick of the old one no longer points at what is on show. Forgotten when Run is clicked,
        # not after the grid arrives: a reset chained after the run raced a click on the new grid and could wipe it
        run.click(lambda: ("Click a sample to edit it.", ""), None, [picked, latent], queue=False,
                  api_visibility="private")
        common.track(event, "Sample", gallery, None)
    return SampleTab(model=model, latent=latent, to_edit=to_edit)
