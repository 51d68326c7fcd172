"""Invert: project a photo into z / w / w+ with live previews and loss curve; download or reuse the latent."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines import faces, imaging
from engines.stylegan.losses import PERCEPTUAL_CHOICES
from engines.stylegan.projector import ProjectionConfig

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import durations, gpu
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
    with common.tab("Invert", "invert", """
            Find the latent code whose image best matches a photo (projection by optimisation). **w+** reconstructs
            best; **z** stays closest to what the GAN samples."""):
        with gr.Row():
            with gr.Column(scale=1):
                photo = gr.Image(label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"], height=256,
                                 elem_id="invert-photo")
                model, model_class = common.gan_picker(registry)
                face = common.face_checkbox()
                face_box = gr.Textbox(label="Face box (optional)", placeholder="left, top, side in the photo's pixels",
                                      info="with 'Find the cat's face': use this square instead of the one found",
                                      elem_id="invert-face-box")
                pti = common.pti_slider()
                noise = gr.Checkbox(value=True, label="Fit noise maps (StyleGAN2)",
                                    info="fine detail the latent cannot hold (stripes, whiskers, pupils); saved in the "
                                         ".npz, kept by edits", elem_id="invert-noise")
                with gr.Row():
                    space = common.space_radio(elem_id="invert-space")
                    optimizer = gr.Radio(["adam", "lbfgs"], value="adam", label="Optimiser")
                steps = common.limited_slider(LIMITS["steps"], 75, label="Steps", elem_id="invert-steps")
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
                        restarts = common.limited_slider(LIMITS["restarts"], label="Restarts")
                    seed = common.seed_field()
                run, stop = common.run_stop("invert", "Invert")
                gr.Examples(common.examples("photos"), inputs=[photo], label="Examples (samples of our models)", elem_id="invert-examples")
            with gr.Column(scale=2):
                with gr.Row():
                    target_img = gr.Image(label="Target (as the model sees it)", type="pil", interactive=False, format="png",
                                          height=256)
                    result_img = gr.Image(label="Reconstruction", type="pil", interactive=False, format="png", height=256,
                                          elem_id="invert-result")
                located = gr.Image(label="Where the face was found (red: a face; yellow: no face, the centre square)",
                                   type="pil", interactive=False, format="png", height=200, visible=False,
                                   elem_id="invert-located")
                status = common.status("invert")
                before_after = gr.ImageSlider(label="Before / after (drag: target ↔ reconstruction)", type="pil",
                                              format="png", interactive=False, height=300, max_height=300, visible=False,
                                              elem_id="invert-before-after")
                curve = gr.LinePlot(common.loss_frame([]), x="step", y="loss", title="Loss", height=220)
                with gr.Accordion("All numbers (JSON)", open=False):
                    metrics = gr.Code(label="Metrics", language="json", elem_id="invert-metrics")
                latent = gr.File(label="Latent (.npz)", elem_id="invert-latent", visible=False)
                with gr.Row():
                    to_a = gr.Button("Use as A in Interpolate", size="sm")
                    to_b = gr.Button("Use as B in Interpolate", size="sm")
                    to_edit = gr.Button("Send to Edit", size="sm")

        outs = [target_img, result_img, status, curve, metrics, latent, before_after, located]

        @gpu(durations.invert)
        @user_errors(status=status)
        def invert(photo_path, model_label, space_v, opt_v, steps_v, l2_v, l1_v, perc_v, perc_w, reg_v,
                   restarts_v, seed_v, class_label=None, face_v=False, pti_v=0, noise_v=True, face_box_v=None,
                   request: gr.Request = None):
            """Invert a photo into a GAN's latent space (z, w or w+) by optimisation and return the reconstruction.

            Args:
                photo_path: the photo to invert (a cat face works best; it is centre-cropped to the model's size).
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                space_v: latent space: "w+" (most faithful), "w" or "z".
                opt_v: optimiser: "adam" or "lbfgs".
                steps_v: optimisation steps per restart (1-5000).
                l2_v: weight of the pixel L2 loss.
                l1_v: weight of the pixel L1 loss.
                perc_v: perceptual network: "disc", "vgg16", "lpips" or "none".
                perc_w: weight of the perceptual loss.
                reg_v: weight of the pull towards the start latent.
                restarts_v: independent runs; the best is kept (1-20).
                seed_v: random seed (0-2147483648).
                class_label: class of a class-conditional model (None otherwise).
                face_v: find and crop the cat's face first.
                pti_v: pivotal-tuning steps after the inversion (0 = off).
                noise_v: also fit StyleGAN2's noise maps (fine detail); ignored for models without noise (DCGAN) and
                    with L-BFGS (its line search cannot follow the maps' renormalisation).
                face_box_v: with face_v, "left, top, side" of the square to use instead of the one found (empty: find it).
            Returns:
                the target as the model sees it, the reconstruction, a status line (PSNR, SSIM, time), the loss
                curve, all metrics as JSON, the latent as .npz, and the (target, reconstruction) pair.
            """
            engine = registry.gan(model_label, class_label)
            photo = inputs.load_photo(photo_path)
            if face_v:  # the user's square, else the face found, else the centre square (and the status says so)
                crop = (faces.crop_at(photo, face_box_v) if (face_box_v or "").strip()
                        else faces.crop_face(photo, centre_if_none=True))
            else:
                crop = None
            shown_box = faces.draw_box(crop) if crop is not None else None
            target = imaging.center_crop_resize(crop.image if crop is not None else photo, engine.resolution)
            options = dict(space=space_v, optimizer=opt_v, steps=steps_v, l2=l2_v, l1=l1_v, perceptual=perc_v,
                           perceptual_weight=perc_w, reg=reg_v, restarts=restarts_v,
                           # the noise maps' per-step renormalisation breaks L-BFGS's line search: Adam only, as the
                           # engine's own default decides (issue 32, item 1)
                           optimize_noise=bool(noise_v) and engine.arch == "stylegan2" and opt_v == "adam",
                           seed=inputs.whole(seed_v, "Seed", 0, common.SEED_MAX))  # the engine checks every option once
            # a bad value fails before the page changes (the engine checks again, the same way)
            ProjectionConfig.from_options(**{k: v for k, v in options.items() if k != "seed"}).validate(engine.spaces)
            job = common.start_job(request, "invert")
            job.context.update(engine=engine, target=common.big(target))
            shown_target = outputs.save_image(common.big(target), "invert", "target.png")  # sent twice: a file (see save_image)
            located_now = (gr.update(value=shown_box, visible=True) if shown_box is not None
                           else gr.update(value=None, visible=False))
            yield {target_img: shown_target, status: "starting…", curve: common.loss_frame([]), located: located_now}
            res = yield from common.run_job(job, lambda job: engine.invert([target], pti_steps=pti_v, progress=job.progress,
                                                                           on_loss=job.on_loss, **options),
                                            status, preview=result_img, losses=curve)
            m = res.metrics
            summary = {"psnr_db": m["psnr"][0], "ssim": m["ssim"][0], "realism": m.get("realism", [None])[0],
                       "perceptual": m.get("perceptual", [None])[0],
                       "perceptual_net": m["perceptual_net"], "latent_distance": m["latent_distance"][0],
                       "seconds": res.timings["total"], "ms_per_step": res.timings["per_step_ms"],
                       "warnings": common.photo_warnings(crop, m["warnings"][0]),
                       "face_box": list(crop.box) if crop is not None else None, "options": res.options}
            text = (common.warnings_text(summary["warnings"]) + common.face_box_text(crop) +
                    f"**PSNR {m['psnr'][0]:.2f} dB · SSIM {m['ssim'][0]:.3f}** (faithfulness) · "
                    f"{common.realism_text(m)} · {res.timings['total']:.1f} s "
                    f"({res.options['space']}, {res.options['optimizer']}, {res.options['steps']} steps"
                    f"{' from the encoder' if res.options.get('init') == 'encoder' else ''}"
                    f"{', noise maps fitted' if res.options.get('optimize_noise') else ''})")
            recon = common.big(res.images[0])
            yield {target_img: shown_target, result_img: recon, status: text, curve: common.loss_frame(job.loss_curve()),
                   metrics: outputs.pretty(summary), latent: outputs.save_latent(res.latents, "invert"),
                   before_after: outputs.save_pair(common.big(target), recon, "invert"),
                   located: shown_box if shown_box is not None else gr.skip()}  # the final answer carries it too

        def stopped(job):
            """After Stop: the best latent so far (the engine hands it over) and its image; else the last preview."""
            partial, engine, target = job.partial, job.context.get("engine"), job.context.get("target")
            image, update, kept = common.big(job.preview) if job.preview else None, {}, "Nothing to keep yet."
            if "latent" in partial and engine is not None:
                noise = partial.get("noise")
                image = common.big(engine.synthesize(partial["latent"], partial["space"], noise)[0])
                update[latent] = common.shown(outputs.save_latent(engine.latent_record(partial["latent"],
                                                                                       partial["space"], noise),
                                                                  "invert", "latent_stopped.npz"))
                kept = "Showing the best latent so far (downloadable below)."
            elif image is not None:
                kept = "Showing the last preview."
            if image is not None:
                update[result_img] = image
                if target is not None:
                    update[before_after] = common.shown(outputs.save_pair(target, image, "invert"))
            # the JSON says this job stopped (it must not keep showing the previous job's numbers)
            return {**update, status: common.stopped_text(job, kept=kept), curve: common.loss_frame(job.loss_curve()),
                    metrics: outputs.pretty({"stopped": True, "kept": kept})}

        event = common.run_event(run, invert, [photo, model, space, optimizer, steps, l2, l1, perceptual,
                                               perceptual_weight, reg, restarts, seed, model_class, face, pti, noise,
                                               face_box],
                                 outs,
                                 status, "invert")
        common.stop_wiring(stop, event, "invert", outs, stopped)
        common.reveal(event, [latent])
        common.reveal_on_run(run, [before_after])
        common.hide_if_empty_on_failure(event, before_after)
        common.track(event, "Invert", result_img, status)

        common.follow_model_spaces(registry, model, space)
    return InvertTab(model=model, latent=latent, to_a=to_a, to_b=to_b, to_edit=to_edit)
