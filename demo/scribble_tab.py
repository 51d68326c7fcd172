"""Scribble → GAN: a realistic image that agrees with a colour sketch under its strokes."""
from __future__ import annotations

import gradio as gr

from engines.stylegan.engine import SCRIBBLE_DEFAULTS
from engines.stylegan.projector import ProjectionConfig

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import gpu
from .jobs import stream
from .registry import Registry

LIMITS = ProjectionConfig.limits()


def build(registry: Registry) -> gr.Dropdown:
    with gr.Tab("Scribble → GAN", id="scribble"):
        gr.Markdown("Draw colour strokes (or upload a sketch). The GAN finds an image that matches the colours "
                    "**under the strokes** and is free elsewhere; the regulariser keeps it a plausible cat.")
        with gr.Row():
            with gr.Column(scale=1):
                sketch = common.canvas("scribble")
                model = common.gan_dropdown(registry)
                model_class = common.class_dropdown(registry, model)
                with gr.Row():
                    space = common.space_radio()
                    steps = gr.Slider(**LIMITS["steps"].slider(150), label="Steps (per restart)", elem_id="scribble-steps")
                with gr.Row():
                    reg = common.number(LIMITS["reg"], SCRIBBLE_DEFAULTS["reg"], label="Regulariser weight (pull to the mean latent)")
                    restarts = gr.Slider(**LIMITS["restarts"].slider(SCRIBBLE_DEFAULTS["restarts"]),
                                         label="Restarts (the most realistic that matches the strokes is kept)")
                seed = common.seed_field()
                run, stop = common.run_stop("scribble", "Generate")
                common.sketch_examples(sketch, "scribble")
            with gr.Column(scale=1):
                result = gr.Image(label="Result", type="pil", interactive=False, format="png", height=256, elem_id="scribble-result")
                status = common.status("scribble")
                with gr.Row():
                    over = gr.Image(label="Strokes over the result", type="pil", interactive=False, format="png", height=160)
                    mask_img = gr.Image(label="Mask (from the strokes)", type="pil", interactive=False, format="png", height=160)
                metrics = gr.Code(label="Metrics", language="json")
                latent = gr.File(label="Latent (.npz)")

        outs = [result, status, over, mask_img, metrics, latent]

        @gpu
        @user_errors
        def generate(canvas_value, model_label, space_v, steps_v, reg_v, restarts_v, seed_v, class_label=None):
            engine = registry.gan(model_label, class_label)
            drawing, mask = inputs.canvas_to_sketch(canvas_value)
            options = dict(space=space_v, steps=steps_v, reg=reg_v, restarts=restarts_v,
                           seed=inputs.whole(seed_v, "Seed", 0, 2**31))  # the engine checks every option once
            for ev in stream(lambda job: engine.scribble(drawing, mask, progress=job.progress, on_loss=job.on_loss,
                                                         **options)):
                if ev.kind == "done":
                    res = ev.result
                    m = res.metrics
                    text = (f"**masked L2 {m['masked_l2'][0]:.4f}** (faithfulness, lower = closer to the strokes) · "
                            f"{common.realism_text(m)} · latent distance {m['latent_distance'][0]:.2f} (1 ≈ typical sample) · "
                            f"{res.timings['total']:.1f} s")
                    summary = {"masked_l2": m["masked_l2"][0], "realism": m.get("realism", [None])[0],
                               "latent_distance": m["latent_distance"][0],
                               "seconds": res.timings["total"], "options": res.options}
                    yield (common.big(res.images[0]), text, inputs.overlay(common.big(res.images[0]), drawing, mask),
                           inputs.mask_image(mask),
                           outputs.pretty(summary), outputs.save_latent(res.latents, "scribble"))
                elif ev.kind == "progress":
                    yield (common.preview(ev.preview), common.progress_text(ev.step, ev.total), gr.skip(), gr.skip(),
                           gr.skip(), gr.skip())
                else:
                    yield common.skips(len(outs))

        event = run.click(generate, [sketch, model, space, steps, reg, restarts, seed, model_class], outs, api_name="scribble",
                          concurrency_id="engines")
        common.stop_wiring(stop, event)

        common.follow_model_spaces(registry, model, space)
    return model
