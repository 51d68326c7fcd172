"""Interpolate: a latent walk between two images (inverted first) or two latents, next to a pixel cross-fade."""
from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from engines import imaging

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry


@dataclass
class InterpolateTab:
    model: gr.Dropdown
    latent_a: gr.File
    latent_b: gr.File


def _endpoint(image_path, latent_file, which: str):
    if latent_file:
        return latent_file if isinstance(latent_file, str) else latent_file.name
    if image_path:
        return inputs.load_photo(image_path, f"image {which}")
    raise inputs.LatentStudioError(f"Give endpoint {which}: an image, or a latent .npz from the Invert tab.")


def summary(res) -> str:
    """The walk's numbers in a few rows (the whole loss curves are in the metrics JSON download)."""
    m, t = res.metrics, res.timings
    rows = [("frames", f"{m['frames']} in {m['space']} ({m['method']})"),
            ("mean step between frames", f"{m['smoothness']['step_mean']:.4f} (lower = smoother)")]
    if m.get("crossfade_smoothness"):
        rows.append(("pixel cross-fade step", f"{m['crossfade_smoothness']['step_mean']:.4f}"))
    for name, inv in zip("AB" if len(m.get("inversion", [])) == 2 else ("A or B",), m.get("inversion", [])):
        curve = inv.get("loss_curve") or []
        rows.append((f"inversion of {name}", f"PSNR {inv['psnr'][0]:.2f} dB · final loss "
                                             f"{(curve[-1] if curve else inv['loss'][0]):.4f} · {inv['steps']} steps"))
    rows.append(("time", " · ".join(f"{k} {v:.1f} s" for k, v in t.items())))
    return outputs.table(rows, ("interpolation", "value"))


def build(registry: Registry) -> InterpolateTab:
    with common.tab("Interpolate", "interpolate", """
            Walk from A to B in latent space (slerp in z, straight lines in w / w+). Images are inverted first; a
            latent from the Invert tab skips that. The row below is the naive pixel cross-fade."""):
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Row():
                    image_a = gr.Image(label="Image A", type="filepath", height=180, elem_id="interpolate-photo")
                    image_b = gr.Image(label="Image B", type="filepath", height=180)
                with gr.Row():
                    latent_a = gr.File(label="…or latent A (.npz)", file_types=[".npz"], height=90)
                    latent_b = gr.File(label="…or latent B (.npz)", file_types=[".npz"], height=90)
                model, model_class = common.gan_picker(registry)
                space = common.space_radio("Space")
                with gr.Row():
                    frames = gr.Slider(2, 120, value=16, step=1, label="Frames")
                    fps = gr.Slider(1, 30, value=8, step=1, label="Frames per second")
                invert_steps = gr.Slider(10, 1000, value=150, step=10, label="Inversion steps (images only)",
                                         elem_id="interpolate-steps")
                common.range_note(frames, "Frames", 2, 120)
                common.range_note(fps, "Frames per second", 1, 30)
                common.range_note(invert_steps, "Inversion steps", 10, 1000)
                seed = common.seed_field()
                run, stop = common.run_stop("interpolate", "Interpolate")
                photos = common.examples("photos")
                gr.Examples([[photos[i], photos[j]] for i, j in ((0, 1), (2, 3)) if j < len(photos)],
                            inputs=[image_a, image_b], label="Examples (samples of our models)", elem_id="interpolate-examples")
            with gr.Column(scale=2):
                animation = gr.Image(label="Animation (GIF)", type="filepath", interactive=False, format="gif", height=256,
                                     elem_id="interpolate-result", elem_classes=["pixelated"])
                status = common.status("interpolate")
                strip = gr.Image(label="Latent interpolation", type="pil", interactive=False, format="png",
                                 elem_classes=["pixelated", "strip"])  # 64 px frames drawn at the frame's width
                fade = gr.Image(label="Pixel cross-fade (for comparison)", type="pil", interactive=False, format="png",
                                elem_classes=["pixelated", "strip"])
                metrics = gr.Markdown(elem_id="interpolate-metrics")
                files = gr.File(label="Downloads: GIF, MP4, latents, all metrics (JSON)", file_count="multiple",
                                visible=False)

        outs = [animation, status, strip, fade, files, metrics]

        @gpu(durations.interpolate)
        @user_errors(status=status)
        def interpolate(img_a, img_b, lat_a, lat_b, model_label, space_v, frames_v, fps_v, inv_steps, seed_v,
                        class_label=None, request: gr.Request = None):
            """Walk from image (or latent) A to B in a GAN's latent space and return the animation.

            Args:
                img_a: image A (inverted first), or None when latent A is given.
                img_b: image B (inverted first), or None when latent B is given.
                lat_a: latent A (.npz from Invert or Sample), or None.
                lat_b: latent B (.npz), or None.
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                space_v: "w+", "w" or "z" (z walks a great circle: slerp).
                frames_v: frames in the walk (2-240).
                fps_v: frames per second of the GIF / MP4 (1-60).
                inv_steps: inversion steps for images (1-5000).
                seed_v: seed of the inversions (0-2147483648).
                class_label: class of a class-conditional model (None otherwise).
            Returns:
                the GIF, a status line, the walk as a strip, the pixel cross-fade strip, the downloads (GIF, MP4,
                latents, metrics JSON) and a summary table.
            """
            engine = registry.gan(model_label, class_label)
            a, b = _endpoint(img_a, lat_a, "A"), _endpoint(img_b, lat_b, "B")
            n = inputs.whole(frames_v, "Frames", 2, 240)
            rate = inputs.real(fps_v, "Frames per second", 1, 60)
            inv = {"steps": inputs.whole(inv_steps, "Inversion steps", 1, 5000),
                   "seed": inputs.whole(seed_v, "Seed", 0, common.SEED_MAX)}
            job = common.start_job(request, "interpolate")
            res = yield from common.run_job(job, lambda job: engine.interpolate(a, b, space=space_v, frames=n,
                                                                                invert_options=inv,
                                                                                progress=job.progress),
                                            status, preview=strip)
            shown_gif = outputs.save_animation([common.big(im) for im in res.images], "interpolate", ".gif",
                                               fps=rate)  # a display copy at 256 px, crisp pixels
            gif = outputs.save_animation(res.images, "interpolate", ".gif", fps=rate)
            mp4 = outputs.save_animation(res.images, "interpolate", ".mp4", fps=rate)
            latents = outputs.save_latent(res.latents, "interpolate", "path.npz")
            numbers = outputs.save_json({"metrics": res.metrics, "timings": res.timings, "options": res.options},
                                        "interpolate", "interpolate_metrics.json")
            sm = res.metrics["smoothness"]
            text = (f"**{n} frames in {space_v}** ({res.metrics['method']}) · {res.timings.get('total', 0):.1f} s · "
                    f"mean step between frames {sm['step_mean']:.4f} (variance {sm['step_var']:.2e}; lower = smoother)")
            yield {animation: shown_gif, status: text, strip: imaging.frame_strip(res.images, min(n, 10)),
                   fade: imaging.frame_strip(res.frames, min(n, 10)) if res.frames else None,
                   files: [gif, mp4, latents, numbers], metrics: summary(res)}

        def stopped(job):
            return common.stopped_update(job, status, preview=strip, kept="The strip shows the last frame or preview.")

        event = common.run_event(run, interpolate, [image_a, image_b, latent_a, latent_b, model, space, frames, fps,
                                                    invert_steps, seed, model_class], outs, status, "interpolate")
        common.stop_wiring(stop, event, "interpolate", outs, stopped)
        common.reveal(event, [files])
        common.track(event, "Interpolate", strip, status)

        common.follow_model_spaces(registry, model, space)
    return InterpolateTab(model=model, latent_a=latent_a, latent_b=latent_b)
