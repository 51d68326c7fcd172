"""Translate: turn the cat in a photo into another class of the diffusion model (DDIM inversion + regeneration)."""
from __future__ import annotations

import gradio as gr

from engines.diffusion.options import TranslateOptions

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry


def build(registry: Registry) -> gr.Dropdown:
    """Sliders take their ranges and defaults from `TranslateOptions`; the engine checks the values once. Returns the
    target-class dropdown (the Models tab refreshes it when another diffusion model is loaded)."""
    limit = TranslateOptions.limit
    classes = registry.diffusion().classes
    with common.tab("Translate", "translate", """
            Keep this cat's pose and layout, change its class: the photo is inverted under its own class (DDIM
            inversion) to **depth** and regenerated under the target class. Low depth keeps more of the photo; depth 1
            changes the most."""):
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(label="Cat photo", type="pil", sources=["upload", "clipboard"], height=260)
                with gr.Row():
                    source = gr.Dropdown(classes, value=classes[0] if classes else None, label="The photo shows",
                                         allow_custom_value=True, info="a class; a prompt for Stable Diffusion")
                    target = gr.Dropdown(classes, value=next((c for c in classes[1:]), None) if classes else None,
                                         label="Turn it into", allow_custom_value=True,
                                         info="a class; a prompt for Stable Diffusion")
                depth = common.limited_slider(limit("strength"), label="Depth")
                guidance = common.limited_slider(limit("guidance"), label="Guidance (toward the target, away from "
                                                                          "the source)")
                with gr.Row():
                    steps = common.limited_slider(limit("steps"), label="Steps")
                    refine = common.limited_slider(limit("refine"), label="Inversion refinement")
                face = common.face_checkbox()
                run, stop = common.run_stop("translate", "Translate")
            with gr.Column(scale=1):
                before_after = gr.ImageSlider(label="Before / after", type="pil", format="png", interactive=False,
                                              height=320, max_height=320, elem_id="translate-before-after",
                                              elem_classes=["pixelated"])
                status = common.status("translate")
                with gr.Accordion("All numbers (JSON)", open=False):
                    metrics = gr.Code(label="Metrics", language="json")
                download = gr.File(label="Download (images, metrics, options)", visible=False)
        outs = [before_after, status, metrics, download]

        @gpu(durations.translate)
        @user_errors(status=status)
        def translate(photo_image, source_class, target_class, depth_value, guidance_value, steps_value,
                      refine_value, find_face, request: gr.Request = None):
            """Turn the cat in a photo into another class (e.g. a Grumpy Cat), keeping its pose and layout.

            Args:
                photo_image: the cat photo.
                source_class: what the photo shows now, e.g. "cat".
                target_class: the class to turn it into, e.g. "grumpy cat".
                depth_value: how far to invert, 0.05-1 (lower keeps more of the photo).
                guidance_value: guidance toward the target and away from the source, 0-50 (1 = the target alone).
                steps_value: DDIM steps of the full schedule, 2-1000; about depth × steps run each way.
                refine_value: fixed-point iterations per inversion step, 0-10 (a closer round trip, slower).
                find_face: find the cat face, translate that crop and paste it back into the photo.
            Returns:
                the (photo, result) pair, a status line, all numbers as JSON and a zip of everything.
            """
            image = inputs.load_photo(photo_image)
            diff = registry.diffusion()
            job = common.start_job(request, "translate")
            res = yield from common.run_job(job, lambda job: diff.translate(
                image, source_class=source_class or None, class_name=target_class or None, strength=depth_value,
                guidance=guidance_value, steps=steps_value, refine=refine_value, face=bool(find_face),
                progress=job.progress), status)
            m, o = res.metrics, res.options
            text = (f"**{o['source_class']} → {o['class_name']}** · {o['inversion_steps']} inversion + "
                    f"{o['denoise_steps']} DDIM steps from t={o['t_start']} · {res.timings['total']:.1f} s · "
                    f"PSNR {m['psnr'][0]:.1f} dB · layout kept (SSIM of blurred grey) {m['layout_ssim'][0]:.2f}"
                    f" · {common.face_text(bool(m['holds_face'][0]), m['cat_face'][0])}"
                    + common.warnings_text(m.get("warnings") or []))
            yield {before_after: outputs.save_pair(common.big(res.images[0]), common.big(res.images[1]), "translate"),
                   status: text, metrics: outputs.pretty({"metrics": m, "timings": res.timings, "options": o}),
                   download: outputs.save_result(res, "translate")}

        def stopped(job):
            return common.stopped_update(job, status)

        event = common.run_event(run, translate, [photo, source, target, depth, guidance, steps, refine, face], outs,
                                 status, "translate")
        common.stop_wiring(stop, event, "translate", outs, stopped)
        common.reveal(event, [download])
        common.track(event, "Translate", before_after, status)
    return target
