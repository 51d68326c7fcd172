""""Polish with diffusion": send a GAN tab's result through low-strength SDEdit, the GAN's structure with the
diffusion model's detail, shown side by side (GAN ↔ polished) under the tab's own result."""
from __future__ import annotations

from typing import Any

import gradio as gr
from PIL import Image

from engines.diffusion.options import SDEditOptions

from . import common, outputs
from .errors import user_errors
from .gpu import gpu
from .registry import Registry

#: SDEdit strength a polish starts at: enough to redraw fur and eyes, too little to move the face (0.3 × 50 = 15 steps)
DEFAULT_STRENGTH = 0.3


def gan_image(value: Any) -> Image.Image:
    """The picture a GAN tab shows as its result: an Image value, the "after" of an ImageSlider, the last of a Gallery
    (for Edit: the +s end of the strip); a clear error when the tab has none yet."""
    if isinstance(value, tuple) and len(value) == 2:
        value = value[1]
    if isinstance(value, list):
        value = value[-1] if value else None
        if isinstance(value, (tuple, list)):
            value = value[0]
    if isinstance(value, dict):
        value = value.get("path") or value.get("url")
    if isinstance(value, str):
        value = Image.open(value)
    if not isinstance(value, Image.Image):
        raise gr.Error("Nothing to polish yet: run the tab first.", duration=6, print_exception=False)
    return value.convert("RGB")


def add(registry: Registry, source: Any, slug: str) -> None:
    """A "Polish with diffusion" accordion under a GAN tab's result ``source`` (an Image, ImageSlider or Gallery)."""
    with gr.Accordion("Polish with diffusion (low-strength SDEdit of this result)", open=False):
        with gr.Row():
            strength = gr.Slider(0.05, 0.6, value=DEFAULT_STRENGTH, step=0.05, label="Strength",
                                 info="low keeps the GAN's face and redraws the detail; "
                                      f"{SDEditOptions.limit('strength').help}")
            run = gr.Button("Polish", elem_id=f"{slug}-polish")
        pair = gr.ImageSlider(label="GAN ↔ polished", type="pil", format="png", interactive=False, height=300,
                              max_height=300, elem_id=f"{slug}-polished", elem_classes=["pixelated"])
        status = common.status(f"{slug}-polish")

    @gpu(lambda *args, **kwargs: 30)
    @user_errors
    def polish(gan_result, sdedit_strength):
        """Send a GAN result through low-strength SDEdit with the diffusion model (class: its first, e.g. "cat").

        Args:
            gan_result: the GAN tab's result image.
            sdedit_strength: SDEdit noise level, 0.05-0.6 (low keeps the GAN's structure).
        Returns:
            the (GAN, polished) pair and a status line.
        """
        image = gan_image(gan_result)
        diff = registry.diffusion()
        res = diff.from_guide(image, strength=sdedit_strength, frames=0)
        small = image.resize(res.images[0].size, Image.LANCZOS)
        realism = res.metrics.get("realism")
        before = common.realism_text({"realism": [_realism(small)]}) if realism else ""
        text = (f"**Polished** · SDEdit strength {sdedit_strength:g}: {res.options['denoise_steps']} "
                f"{res.options['scheduler']} steps, class {res.options.get('class_name') or '–'} · "
                f"{res.timings['total']:.1f} s · L2 to the GAN image {res.metrics['l2'][0]:.4f} · "
                + (f"{before.split(' (')[0]} → {realism[0]:.2f} · " if before else "")
                + common.face_text(bool(res.metrics["holds_face"][0]), res.metrics["cat_face"][0]))
        return outputs.save_pair(common.big(small), common.big(res.images[0]), f"{slug}-polish"), text

    run.click(polish, [source, strength], [pair, status], api_name=f"polish_{slug}", concurrency_id="engines",
              show_progress_on=[status])


def _realism(image: Image.Image) -> float:
    from engines import imaging
    from engines.evaluation.realism import PatchRealism
    realism = PatchRealism.default()
    return float(realism.score(imaging.to_tensor(image))[0]) if realism is not None else float("nan")
