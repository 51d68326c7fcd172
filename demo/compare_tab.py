"""GAN vs Diffusion: the same sketch through GAN scribble projection and SDEdit, side by side."""
from __future__ import annotations

import gradio as gr

from engines import compare as comparison
from engines.diffusion.options import SDEditOptions
from engines.stylegan.engine import SCRIBBLE_DEFAULTS
from engines.stylegan.projector import ProjectionConfig

from . import common, inputs, outputs
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry


def build(registry: Registry) -> gr.Dropdown:
    with common.tab("GAN vs Diffusion", "compare", """
            Draw once; the GAN projects the strokes onto its manifold, SDEdit noises and denoises the sketch. **Cat
            face** = whether OpenCV's cat-face detector finds a face in the result (it does in ≈ 9 of 10 real photos
            and in no sketch); **layout L2** = how far the result's 16×16 colour layout is from the strokes (lower =
            closer), masked L2 the same at every pixel; patch realism = how much the local texture looks like real
            photos (0.5 ≈ a photo; it does not know a blob from a cat); and the time each took."""):
        with gr.Row():
            with gr.Column(scale=1):
                sketch = common.canvas("compare")
                with gr.Row():
                    model, model_class = common.gan_picker(registry, "GAN")
                    gan_steps = common.limited_slider(ProjectionConfig.limit("steps"), SCRIBBLE_DEFAULTS["steps"],
                                                      label="GAN steps (per restart)",
                                                      elem_id="compare-gan-steps")
                with gr.Row():
                    strength = common.limited_slider(SDEditOptions.limit("strength"), label="SDEdit strength")
                    steps = common.limited_slider(SDEditOptions.limit("steps"), label="SDEdit DDIM steps",
                                                  info="about strength × steps run")
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
                with gr.Accordion("Details (JSON)", open=False, visible=False) as details:
                    metrics = gr.Code(label="Details", language="json")

        outs = [gan_img, diff_img, status, table, metrics]
        shown_on = {"GAN": gan_img, "Diffusion": diff_img}  # where each run's previews go
        steps_of = {"GAN": "GAN step", "Diffusion": "SDEdit step"}  # what its progress counts

        @gpu(durations.compare)
        @user_errors(status=status)
        def compare(canvas_value, model_label, gan_steps_v, strength_v, steps_v, seed_v, class_label=None,
                    request: gr.Request = None):
            """Run the same sketch through GAN scribble projection and SDEdit, and compare them.

            Args:
                canvas_value: the sketch: an image editor value {"background", "layers", "composite"}.
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                gan_steps_v: GAN optimisation steps per restart (1-5000).
                strength_v: SDEdit noise level 0-1.
                steps_v: SDEdit DDIM steps of the full schedule (about strength × steps run).
                seed_v: random seed for both (0-2147483648).
                class_label: class of a class-conditional GAN (None otherwise).
            Returns:
                the GAN result, the SDEdit result, a status line, a markdown table (faithfulness, realism, time) and
                the details as JSON.
            """
            gan, diff = registry.gan(model_label, class_label), registry.diffusion()
            drawing, mask = inputs.canvas_to_sketch(canvas_value)
            seed_n = inputs.whole(seed_v, "Seed", 0, common.SEED_MAX)
            d_opts = dict(strength=strength_v, steps=steps_v, scheduler="ddim", frames=8)  # engines check options
            sketch_rgb, stroke_mask = comparison.square_sketch(drawing, mask)
            runs = []
            for name, engine, opts in (("GAN", gan, dict(steps=gan_steps_v)), ("Diffusion", diff, d_opts)):
                guide_mask = "strokes" if name == "GAN" else None
                job = common.start_job(request, "compare")
                job.context.update(engine=name)
                result = yield from common.run_job(
                    job, lambda job: comparison.run_engine(name, engine, sketch_rgb, stroke_mask, seed=seed_n,
                                                           guide_mask=guide_mask, progress=job.progress,
                                                           photo_distance=gan.photo_distance(), **opts),
                    status, preview=shown_on[name], what=steps_of[name])
                runs.append(result)
                if name == "GAN":
                    gan_shown = outputs.save_image(common.big(runs[0].image), "compare", "gan.png")
                    yield {gan_img: gan_shown, status: "GAN done; running SDEdit…"}
            details = {r.name: r.row() for r in runs}
            yield {gan_img: gan_shown, diff_img: common.big(runs[1].image), status: comparison.summary(runs),
                   table: comparison.table(runs), metrics: outputs.pretty(details)}

        def stopped(job):
            name = job.context.get("engine", "GAN")
            return common.stopped_update(job, status, what=steps_of[name], preview=shown_on[name],
                                         kept=f"Showing the {name} run's last preview.")

        event = common.run_event(run, compare, [sketch, model, gan_steps, strength, steps, seed, model_class], outs,
                                 status, "compare")
        common.stop_wiring(stop, event, "compare", outs, stopped)
        common.reveal(event, [details])
        common.track(event, "GAN vs Diffusion", diff_img, status)
        _edits_section(registry, model)
    return model


def _edits_section(registry: Registry, model: gr.Dropdown) -> None:
    """One photo, two edits: the GAN's `grumpy` direction (invert, then move) beside the diffusion model's
    translation to "grumpy cat" (`engines.compare_edits`)."""
    from engines import compare_edits
    from engines.diffusion.options import TranslateOptions
    gr.Markdown("### On a photo: the GAN's edit vs diffusion's translation\nThe GAN inverts the photo and moves "
                "along its **grumpy** direction; the diffusion model inverts it under *cat* and regenerates it as a "
                "*grumpy cat*. Each is measured against the photo (PSNR, SSIM, layout kept) and by its distance to "
                "real Grumpy-Cat photos in the GAN discriminator's features (1 ≈ a typical one; lower = more "
                "Grumpy-Cat-like).")
    with gr.Row():
        with gr.Column(scale=1):
            photo = gr.Image(label="Cat photo", type="pil", sources=["upload", "clipboard"], height=220)
            with gr.Row():
                gan_strength = gr.Slider(0, 8, value=4, step=0.5, label="GAN: grumpy strength",
                                         info="multiples of the direction's step (the Edit tab's default is 4)")
                depth = common.limited_slider(TranslateOptions.limit("strength"), label="Diffusion: depth")
            face = common.face_checkbox()
            run = gr.Button("Edit with both", variant="primary", elem_id="compare-edits-run")
        with gr.Column(scale=1):
            gallery = gr.Gallery(format="png", interactive=False, label="Photo | GAN | Diffusion", columns=3,
                                 height=220, elem_id="compare-edits-result")
            table = gr.Markdown(elem_id="compare-edits-table")

    @gpu(lambda *args, **kwargs: 60)
    @user_errors
    def compare_edits_run(photo_image, gan_model, grumpy_strength, translate_depth, find_face):
        """One cat photo made grumpy by both engines: the GAN's grumpy direction and diffusion's class translation.

        Args:
            photo_image: the cat photo.
            gan_model: the GAN (its label in the model picker).
            grumpy_strength: how far along the GAN's grumpy direction, 0-8 (multiples of its unit step).
            translate_depth: how far the diffusion model inverts the photo, 0.05-1 (lower keeps more of it).
            find_face: crop the photo to its cat face first.
        Returns:
            the photo and both results, and a table of their figures.
        """
        image = inputs.load_photo(photo_image)
        square, runs, own = compare_edits.compare_edits(registry.model(gan_model), registry.diffusion(), image,
                                                        gan_strength=float(grumpy_strength),
                                                        strength=float(translate_depth), face=bool(find_face))
        shown = [(common.big(square.resize(runs[0].image.size)), "photo")] + \
            [(common.big(r.image), f"{r.name}: {r.options.get('direction') or r.options.get('class_name')}")
             for r in runs]
        return shown, compare_edits.table(runs, own)

    run.click(compare_edits_run, [photo, model, gan_strength, depth, face], [gallery, table], api_name="compare_edits",
              concurrency_id="engines", show_progress_on=[table])
