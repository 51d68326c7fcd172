"""Invert: project a photo into z / w / w+ with live previews and loss curve; download or reuse the latent."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines import faces, imaging
from engines.stylegan.losses import PERCEPTUAL_CHOICES
from engines.stylegan.projector import ProjectionConfig

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import gpu
from .jobs import stream
from .registry import Registry

LIMITS = ProjectionConfig.limits()


@dataclass
class InvertTab:
    model: gr.Dropdown
    latent: gr.File
    to_a: gr.Button
    to_b: gr.Button
    to_edit: gr.Button


def build(registry: Registry) -> InvertTab:
    with gr.Tab("Invert", id="invert"):
        gr.Markdown("Find the latent code whose image best matches a photo (projection by optimisation). "
                    "**w+** reconstructs best; **z** stays closest to what the GAN samples.")
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(label="Photo", type="filepath", sources=["upload", "clipboard"], height=256,
                                 elem_id="invert-photo")
                model = common.gan_dropdown(registry)
                model_class = common.class_dropdown(registry, model)
                face = common.face_checkbox()
                pti = common.pti_slider()
                with gr.Row():
                    space = common.space_radio()
                    optimizer = gr.Radio(["adam", "lbfgs"], value="adam", label="Optimiser")
                steps = gr.Slider(**LIMITS["steps"].slider(200), label="Steps", elem_id="invert-steps")
                with gr.Accordion("Loss weights and more", open=False):
                    with gr.Row():
                        l2 = common.number(LIMITS["l2"])
                        l1 = common.number(LIMITS["l1"])
                    with gr.Row():
                        perceptual = gr.Dropdown(list(PERCEPTUAL_CHOICES), value="disc", label="Perceptual network",
                                                 info="disc = our discriminator's features (offline)")
                        perceptual_weight = common.number(LIMITS["perceptual_weight"])
                    with gr.Row():
                        reg = common.number(LIMITS["reg"])
                        restarts = gr.Slider(**LIMITS["restarts"].slider(), label="Restarts")
                    seed = common.seed_field()
                run, stop = common.run_stop("invert", "Invert")
                gr.Examples(common.examples("photos"), inputs=[photo], label="Examples (samples of our models)", elem_id="invert-examples")
            with gr.Column(scale=2):
                with gr.Row():
                    target_img = gr.Image(label="Target (as the model sees it)", type="pil", interactive=False, format="png",
                                          height=256)
                    result_img = gr.Image(label="Reconstruction", type="pil", interactive=False, format="png", height=256,
                                          elem_id="invert-result")
                status = common.status("invert")
                curve = gr.LinePlot(common.loss_frame([]), x="step", y="loss", title="Loss", height=220)
                metrics = gr.Code(label="Metrics", language="json")
                latent = gr.File(label="Latent (.npz)", elem_id="invert-latent")
                with gr.Row():
                    to_a = gr.Button("Use as A in Interpolate", size="sm")
                    to_b = gr.Button("Use as B in Interpolate", size="sm")
                    to_edit = gr.Button("Send to Edit", size="sm")

        outs = [target_img, result_img, status, curve, metrics, latent]

        @gpu
        @user_errors
        def invert(photo_path, model_label, space_v, opt_v, steps_v, l2_v, l1_v, perc_v, perc_w, reg_v,
                   restarts_v, seed_v, class_label=None, face_v=False, pti_v=0):
            engine = registry.gan(model_label, class_label)
            photo = inputs.load_photo(photo_path)
            target = imaging.center_crop_resize(faces.crop_face(photo).image if face_v else photo, engine.resolution)
            options = dict(space=space_v, optimizer=opt_v, steps=steps_v, l2=l2_v, l1=l1_v, perceptual=perc_v,
                           perceptual_weight=perc_w, reg=reg_v, restarts=restarts_v,
                           seed=inputs.whole(seed_v, "Seed", 0, 2**31))  # the engine checks every option once
            yield common.big(target), None, "starting…", common.loss_frame([]), "", None
            for ev in stream(lambda job: engine.invert([target], pti_steps=pti_v, progress=job.progress,
                                                       on_loss=job.on_loss, **options)):
                if ev.kind == "done":
                    res = ev.result
                    m = res.metrics
                    summary = {"psnr_db": m["psnr"][0], "ssim": m["ssim"][0], "realism": m.get("realism", [None])[0],
                               "perceptual": m.get("perceptual", [None])[0],
                               "perceptual_net": m["perceptual_net"], "latent_distance": m["latent_distance"][0],
                               "seconds": res.timings["total"], "ms_per_step": res.timings["per_step_ms"],
                               "options": res.options}
                    text = (f"**PSNR {m['psnr'][0]:.2f} dB · SSIM {m['ssim'][0]:.3f}** (faithfulness) · "
                            f"{common.realism_text(m)} · {res.timings['total']:.1f} s "
                            f"({res.options['space']}, {res.options['optimizer']}, {res.options['steps']} steps)")
                    yield (common.big(target), common.big(res.images[0]), text, common.loss_frame(ev.losses), outputs.pretty(summary),
                           outputs.save_latent(res.latents, "invert"))
                elif ev.kind == "progress":
                    yield (gr.skip(), common.preview(ev.preview),
                           common.progress_text(ev.step, ev.total), common.loss_frame(ev.losses), gr.skip(), gr.skip())
                else:
                    yield common.skips(len(outs))

        event = run.click(invert, [photo, model, space, optimizer, steps, l2, l1, perceptual, perceptual_weight, reg,
                                   restarts, seed, model_class, face, pti], outs, api_name="invert", concurrency_id="engines")
        common.stop_wiring(stop, event)

        common.follow_model_spaces(registry, model, space)
    return InvertTab(model=model, latent=latent, to_a=to_a, to_b=to_b, to_edit=to_edit)
