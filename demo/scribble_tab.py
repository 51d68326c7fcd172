"""Scribble → GAN: a realistic image that agrees with a colour sketch under its strokes."""
from __future__ import annotations

import gradio as gr

from engines.stylegan.engine import SCRIBBLE_DEFAULTS
from engines.stylegan.projector import ProjectionConfig

from . import common, inputs, outputs, polish
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry

LIMITS = ProjectionConfig.limits()


def build(registry: Registry) -> gr.Dropdown:
    with common.tab("Scribble → GAN", "scribble", """
            Draw colour strokes (or upload a sketch). The GAN finds an image that matches the colours **under the
            strokes** and is free elsewhere; the regulariser keeps it a plausible cat."""):
        with gr.Row():
            with gr.Column(scale=1):
                sketch = common.canvas("scribble")
                model, model_class = common.gan_picker(registry)
                with gr.Row():
                    space = common.space_radio()
                    steps = common.limited_slider(LIMITS["steps"], SCRIBBLE_DEFAULTS["steps"], label="Steps (per restart)", elem_id="scribble-steps")
                follow = common.limited_slider(LIMITS["follow_lines"], SCRIBBLE_DEFAULTS["follow_lines"],
                                               label="Follow the lines (0: the drawing's colour layout → a photo-like "
                                                     "cat; 1: every line and fill as drawn)",
                                               elem_id="scribble-follow")
                with gr.Row():
                    reg = common.number(LIMITS["reg"], SCRIBBLE_DEFAULTS["reg"], label="Regulariser weight (pull to the mean latent)")
                    restarts = common.limited_slider(LIMITS["restarts"], SCRIBBLE_DEFAULTS["restarts"],
                                                     label="Restarts (the one most like a cat face that matches the strokes is kept)")
                seed = common.seed_field()
                run, stop = common.run_stop("scribble", "Generate")
                common.sketch_examples(sketch, "scribble")
            with gr.Column(scale=1):
                result = gr.Image(label="Result", type="pil", interactive=False, format="png", height=256, elem_id="scribble-result")
                status = common.status("scribble")
                with gr.Row():
                    over = gr.Image(label="Strokes over the result", type="pil", interactive=False, format="png", height=160,
                                    elem_classes=["pixelated"])
                    mask_img = gr.Image(label="Mask (from the strokes)", type="pil", interactive=False, format="png", height=160,
                                        elem_classes=["pixelated"])
                with gr.Accordion("All numbers (JSON)", open=False):
                    metrics = gr.Code(label="Metrics", language="json")
                latent = gr.File(label="Latent (.npz)", visible=False)
                polish.add(registry, result, "scribble")

        outs = [result, status, over, mask_img, metrics, latent]

        @gpu(durations.scribble)
        @user_errors(status=status)
        def generate(canvas_value, model_label, space_v, steps_v, reg_v, restarts_v, seed_v, class_label=None,
                     follow_v=SCRIBBLE_DEFAULTS["follow_lines"], request: gr.Request = None):
            """Generate a realistic image that agrees with a colour sketch under its strokes (GAN projection).

            Args:
                canvas_value: the sketch: an image editor value {"background", "layers", "composite"}; strokes on
                    layers are the mask, else the sketch's own non-white pixels.
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                space_v: latent space: "w+", "w" or "z".
                steps_v: optimisation steps per restart (1-5000).
                reg_v: weight of the pull to the mean latent (keeps the result plausible).
                restarts_v: independent runs (1-20); the most realistic that matches the strokes is kept.
                seed_v: random seed (0-2147483648).
                class_label: class of a class-conditional model (None otherwise).
                follow_v: follow the lines, 0-1: 0 matches the drawing's 16×16 colour layout (a photo-like cat),
                    1 every pixel (lines and flat fills as drawn, with StyleGAN2's noise maps).
            Returns:
                the result, a status line (masked L2, realism), the strokes over the result, the mask, all numbers as
                JSON and the latent (.npz).
            """
            engine = registry.gan(model_label, class_label)
            drawing, mask = inputs.canvas_to_sketch(canvas_value)
            options = dict(space=space_v, steps=steps_v, reg=reg_v, restarts=restarts_v, follow_lines=follow_v,
                           seed=inputs.whole(seed_v, "Seed", 0, common.SEED_MAX))  # the engine checks every option once
            job = common.start_job(request, "scribble")
            job.context.update(engine=engine)
            res = yield from common.run_job(job, lambda job: engine.scribble(drawing, mask, progress=job.progress,
                                                                             on_loss=job.on_loss, **options),
                                            status, preview=result)
            m = res.metrics
            text = (f"**{common.face_text(m['holds_face'][0], m['cat_face'][0])}** · {common.photo_distance_text(m)}"
                    f"**layout L2 {m['layout_l2'][0]:.4f}** (the strokes' colours at 16×16, lower = closer) · "
                    f"masked L2 {m['masked_l2'][0]:.4f} (every pixel) · "
                    f"{common.realism_text(m)} · latent distance {m['latent_distance'][0]:.2f} (1 ≈ typical sample) · "
                    f"{res.timings['total']:.1f} s")
            summary = {"holds_cat_face": m["holds_face"][0], "cat_face_confidence": m["cat_face"][0],
                       "photo_distance": m.get("photo_distance", [None])[0],
                       "layout_l2": m["layout_l2"][0], "masked_l2": m["masked_l2"][0], "realism": m.get("realism", [None])[0],
                       "latent_distance": m["latent_distance"][0],
                       "seconds": res.timings["total"], "options": res.options}
            yield {result: common.big(res.images[0]), status: text,
                   over: inputs.overlay(common.big(res.images[0]), drawing, mask),
                   mask_img: common.big(inputs.mask_image(mask)),
                   metrics: outputs.pretty(summary), latent: outputs.save_latent(res.latents, "scribble")}

        def stopped(job):
            """After Stop: the best latent so far (from the engine) and its image, else the last preview."""
            partial, engine = job.partial, job.context.get("engine")
            if "latent" in partial and engine is not None:
                noise = partial.get("noise")
                image = common.big(engine.synthesize(partial["latent"], partial["space"], noise)[0])
                record = engine.latent_record(partial["latent"], partial["space"], noise)
                return {result: image,
                        status: common.stopped_text(job, kept="Showing the best latent so far (downloadable below)."),
                        latent: common.shown(outputs.save_latent(record, "scribble", "latent_stopped.npz"))}
            return common.stopped_update(job, status, preview=result, kept="Showing the last preview.")

        event = common.run_event(run, generate, [sketch, model, space, steps, reg, restarts, seed, model_class, follow],
                                 outs,
                                 status, "scribble")
        common.stop_wiring(stop, event, "scribble", outs, stopped)
        common.reveal(event, [latent])
        common.track(event, "Scribble", result, status)

        common.follow_model_spaces(registry, model, space)
    return model
