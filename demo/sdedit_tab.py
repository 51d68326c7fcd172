"""SDEdit: noise a sketch or photo to a strength, denoise it with a diffusers scheduler under guidance."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines.diffusion.options import SDEditOptions

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry


@dataclass
class SDEditTab:
    class_name: gr.Dropdown
    guidance: gr.Slider
    steps: gr.Slider
    model_info: gr.Markdown


def conditioning_updates(registry: Registry) -> tuple:
    """Class choices, default guidance, default steps and the model line for the current diffusion engine
    (turbo models: guidance 0, a few steps)."""
    engine = registry.diffusion()
    classes = engine.classes
    d = engine.describe()
    info = f"**{d.name}** · {d.conditioning} · {d.notes or d.source}"
    return (gr.update(choices=classes, value=classes[0] if classes else None, visible=bool(classes)),
            gr.update(value=engine.default_guidance), gr.update(value=engine.default_steps), info)


def build(registry: Registry) -> SDEditTab:
    """Sliders take their ranges (and defaults, unless the model has its own) from `SDEditOptions`; the engine
    checks the values once, with messages that name the field."""
    limit = SDEditOptions.limit
    engine = registry.diffusion()
    d = engine.describe()
    with gr.Tab("SDEdit", id="sdedit"):
        model_info = gr.Markdown(f"**{d.name}** · {d.conditioning} · {d.notes or d.source}")
        gr.Markdown("Noise the guide up to **strength** (0 = keep it, 1 = ignore it), then denoise: low strength "
                    "stays faithful to the sketch, high strength looks more real.")
        with gr.Row():
            with gr.Column(scale=1):
                guide = common.canvas("sdedit", "Sketch or photo (upload, then draw on it if you like)")
                strength = common.limited_slider(limit("strength"), label="Strength (t0 = strength × 1000)",
                                                 info="runs about strength × Steps denoising steps")
                with gr.Row():
                    scheduler = gr.Dropdown(list(limit("scheduler").choices), value=limit("scheduler").default,
                                            label="Scheduler")
                    steps = common.limited_slider(limit("steps"), engine.default_steps, label="Steps (full schedule)",
                                                  elem_id="sdedit-steps")
                with gr.Row():
                    guidance = common.limited_slider(limit("guidance"), engine.default_guidance, label="Guidance scale",
                                                     info="≤ 1: no classifier-free guidance (turbo models use 0)")
                    eta = common.limited_slider(limit("eta"), label="eta (DDIM noise)")
                class_name = gr.Dropdown(engine.classes, value=engine.classes[0] if engine.classes else None,
                                         label="Class", visible=bool(engine.classes))
                prompt = gr.Textbox(label="Prompt (Stable Diffusion models)", placeholder="a photo of a grumpy cat")
                negative = gr.Textbox(label="Negative prompt (Stable Diffusion models)")
                with gr.Row():
                    n = common.limited_slider(limit("n"), 4, label="Samples")  # the gallery starts with 4
                    seed = common.seed_field()
                strokes_only = gr.Checkbox(False, label="Only re-imagine under the strokes (keep the rest exactly)")
                run, stop = common.run_stop("sdedit", "Run SDEdit")
                common.sketch_examples(guide, "sdedit")
            with gr.Column(scale=1):
                gallery = gr.Gallery(format="png", interactive=False, label="Results", columns=4, height=260, elem_id="sdedit-result")
                status = common.status("sdedit")
                before_after = gr.ImageSlider(label="Before / after (drag: guide ↔ sample 1)", type="pil", format="png",
                                              interactive=False, height=300, max_height=300, visible=False,
                                              elem_id="sdedit-before-after")
                preview = gr.Image(label="Denoising preview (x0 estimate of sample 1)", type="pil", interactive=False, format="png",
                                   height=200)
                with gr.Accordion("All numbers (JSON)", open=False):
                    metrics = gr.Code(label="Metrics", language="json")
                download = gr.File(label="Download (images, metrics, options)", visible=False)

        outs = [gallery, status, preview, metrics, download, before_after]

        @gpu(durations.sdedit)
        @user_errors(status=status)
        def sdedit(canvas_value, strength_v, scheduler_v, steps_v, guidance_v, eta_v, class_v, prompt_v, negative_v,
                   n_v, seed_v, strokes_v, request: gr.Request = None):
            """SDEdit: noise a sketch or photo up to a strength, then denoise it with the diffusion model.

            Args:
                canvas_value: the guide: an image editor value {"background", "layers", "composite"} (a sketch or a
                    photo, with optional strokes drawn on it).
                strength_v: noise level 0-1 (0 keeps the guide, 1 ignores it); about strength × steps_v steps run.
                scheduler_v: "ddim", "ddpm", "euler", … (see the dropdown).
                steps_v: steps of the full schedule (1-1000).
                guidance_v: classifier-free guidance scale (≤ 1 turns it off).
                eta_v: DDIM noise (0 = deterministic).
                class_v: class of a class-conditional model (e.g. "grumpy cat"), else None.
                prompt_v: text prompt (Stable Diffusion models only).
                negative_v: negative prompt (Stable Diffusion models only).
                n_v: samples (seeds seed_v, seed_v + 1, …).
                seed_v: random seed (0-2147483648).
                strokes_v: only re-imagine under the drawn strokes, keep the rest exactly.
            Returns:
                the samples, a status line, the last denoising preview, all numbers as JSON, a zip of everything and
                the (guide, sample 1) pair.
            """
            diff = registry.diffusion()
            drawing, mask = inputs.canvas_to_sketch(canvas_value)
            text_model = diff.kind != "pixel"
            # the SDEdit options go to the engine as they are: it checks them once (`SDEditOptions.check`)
            options = dict(strength=strength_v, scheduler=scheduler_v, steps=steps_v, guidance=guidance_v, eta=eta_v,
                           n=n_v, seed=inputs.whole(seed_v, "Seed", 0, common.SEED_MAX),
                           class_name=(class_v or None) if diff.classes else None,
                           prompt=(prompt_v or None) if text_model else None,
                           negative_prompt=(negative_v or None) if text_model else None)
            job = common.start_job(request, "sdedit")
            res = yield from common.run_job(job, lambda job: diff.from_guide(drawing, mask if strokes_v else None,
                                                                             progress=job.progress, **options),
                                            status, preview=preview)
            l2 = res.metrics.get("masked_l2", res.metrics["l2"])
            o = res.options
            text = (f"**{len(res.images)} samples** · {o['denoise_steps']} {o['scheduler']} steps "
                    f"(strength {o.get('strength', strength_v):g} × {o.get('steps', steps_v)} in the schedule; "
                    f"from t={o['t_start']}) · {res.timings['total']:.1f} s "
                    f"({res.timings['per_image']:.1f} s per image) · L2 to the guide "
                    f"{sum(l2) / len(l2):.4f} · cat face found in {sum(res.metrics['holds_face'])} of "
                    f"{len(res.images)}" + (f" · patch realism {sum(res.metrics['realism']) / len(res.images):.2f} "
                                            "(texture only: 0.5 ≈ a real photo)" if "realism" in res.metrics else ""))
            images = [common.big(im) for im in res.images]
            yield {gallery: images, status: text, preview: common.big(res.frames[-1]) if res.frames else None,
                   metrics: outputs.pretty({"metrics": res.metrics, "timings": res.timings, "options": res.options}),
                   download: outputs.save_result(res, "sdedit"),
                   before_after: outputs.save_pair(common.big(drawing.resize(res.images[0].size)), images[0], "sdedit")}

        def stopped(job):
            return common.stopped_update(job, status, preview=preview,
                                         kept="The preview shows sample 1's last x0 estimate.")

        event = common.run_event(run, sdedit, [guide, strength, scheduler, steps, guidance, eta, class_name, prompt,
                                               negative, n, seed, strokes_only], outs, status, "sdedit")
        common.stop_wiring(stop, event, "sdedit", outs, stopped)
        common.reveal(event, [download])
        common.reveal_on_run(run, [before_after])
        common.hide_if_empty_on_failure(event, before_after)
        common.track(event, "SDEdit", gallery, status)
    return SDEditTab(class_name=class_name, guidance=guidance, steps=steps, model_info=model_info)
