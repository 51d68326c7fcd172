"""GAN vs Diffusion: the same sketch through GAN scribble projection and SDEdit, side by side."""
from __future__ import annotations

import time

import gradio as gr

from engines.diffusion.guide import faithfulness, prepare_guide, prepare_mask

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import gpu
from .jobs import stream
from .registry import Registry


def masked_l2(image, drawing, mask, resolution: int) -> float:
    """Masked L2 to the sketch, measured the same way for both engines (at the engine's resolution)."""
    guide, size = prepare_guide(drawing, resolution)
    m = prepare_mask(mask, drawing, size, resolution)
    return faithfulness([image.resize(guide.size)], guide, m)["masked_l2"][0]


def build(registry: Registry) -> gr.Dropdown:
    with gr.Tab("GAN vs Diffusion", id="compare"):
        gr.Markdown("Draw once; the GAN projects the strokes onto its manifold, SDEdit noises and denoises the "
                    "sketch. Faithfulness = masked L2 to the strokes (lower = closer), plus the time each took.")
        with gr.Row():
            with gr.Column(scale=1):
                sketch = common.canvas("compare")
                with gr.Row():
                    model = common.gan_dropdown(registry, "GAN")
                    model_class = common.class_dropdown(registry, model)
                    gan_steps = gr.Slider(10, 1000, value=200, step=10, label="GAN steps", elem_id="compare-gan-steps")
                with gr.Row():
                    strength = gr.Slider(0.05, 1.0, value=0.6, step=0.05, label="SDEdit strength")
                    steps = gr.Slider(5, 200, value=50, step=5, label="SDEdit DDIM steps")
                seed = common.seed_field()
                run, stop = common.run_stop("compare", "Run both")
                common.sketch_examples(sketch, "compare")
            with gr.Column(scale=2):
                with gr.Row():
                    gan_img = gr.Image(label="GAN (scribble projection)", type="pil", interactive=False, format="png", height=256,
                                       elem_id="compare-gan")
                    diff_img = gr.Image(label="Diffusion (SDEdit)", type="pil", interactive=False, format="png", height=256,
                                        elem_id="compare-result")
                status = common.status("compare")
                table = gr.Markdown()
                metrics = gr.Code(label="Details", language="json")

        outs = [gan_img, diff_img, status, table, metrics]

        @gpu
        @user_errors
        def compare(canvas_value, model_label, gan_steps_v, strength_v, steps_v, seed_v, class_label=None):
            gan, diff = registry.gan(model_label, class_label), registry.diffusion()
            drawing, mask = inputs.canvas_to_sketch(canvas_value)
            seed_n = inputs.whole(seed_v, "Seed", 0, 2**31)
            g_steps = inputs.whole(gan_steps_v, "GAN steps", 1, 5000)
            d_opts = dict(strength=inputs.real(strength_v, "SDEdit strength", 0, 1),
                          steps=inputs.whole(steps_v, "SDEdit steps", 1, 1000), scheduler="ddim", seed=seed_n, frames=8)
            rows = {}
            start = time.perf_counter()
            for ev in stream(lambda job: gan.scribble(drawing, mask, steps=g_steps, seed=seed_n, progress=job.progress)):
                if ev.kind == "done":
                    res = ev.result
                    rows["GAN"] = (res.images[0], masked_l2(res.images[0], drawing, mask, gan.resolution),
                                   time.perf_counter() - start, res.options)
                    yield common.big(res.images[0]), gr.skip(), "GAN done; running SDEdit…", gr.skip(), gr.skip()
                elif ev.kind == "progress":
                    yield common.preview(ev.preview), gr.skip(), common.progress_text(ev.step, ev.total, "GAN step"), \
                        gr.skip(), gr.skip()
                else:
                    yield common.skips(len(outs))
            start = time.perf_counter()
            for ev in stream(lambda job: diff.from_guide(drawing, None, progress=job.progress, **d_opts)):
                if ev.kind == "done":
                    res = ev.result
                    rows["Diffusion"] = (res.images[0], masked_l2(res.images[0], drawing, mask, diff.resolution),
                                         time.perf_counter() - start, res.options)
                elif ev.kind == "progress":
                    yield gr.skip(), common.preview(ev.preview), common.progress_text(ev.step, ev.total, "SDEdit step"), \
                        gr.skip(), gr.skip()
                else:
                    yield common.skips(len(outs))
            lines = ["| engine | masked L2 to the strokes | seconds |", "|---|---|---|"]
            lines += [f"| {name} | {l2:.4f} | {sec:.1f} |" for name, (_, l2, sec, _) in rows.items()]
            details = {name: {"masked_l2": l2, "seconds": sec, "options": opts} for name, (_, l2, sec, opts) in rows.items()}
            yield (common.big(rows["GAN"][0]), common.big(rows["Diffusion"][0]), "done", "\n".join(lines), outputs.pretty(details))

        event = run.click(compare, [sketch, model, gan_steps, strength, steps, seed, model_class], outs, api_name="compare",
                          concurrency_id="engines")
        common.stop_wiring(stop, event)
    return model
