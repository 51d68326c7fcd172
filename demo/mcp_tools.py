"""The app's endpoints as tools an agent understands (``python app.py --mcp-server``; also on the API page).

Gradio makes each public endpoint an MCP tool named after its function, with the function's docstring as the
description and its parameter names as the arguments. The tabs' own endpoints are written for the page: their
arguments are the page's controls (``space_v``, ``canvas_value``), some return a gallery or a gr.State, which
Gradio's MCP layer cannot hand back (a State output fails with "pop index out of range"). So each tab's work is
offered here once more, as a plain function: a photo in (a URL, or a ``data:image/png;base64,...`` string, which
Gradio's MCP layer saves to a file; or a path from its ``upload_file_to_gradio`` tool), named options with the
engines' defaults, and one image out. One output only: with several, Gradio 6.31's MCP layer returns the
whole tuple as one text item (``_execute_tool_without_progress`` wraps ``job.result()`` in a list), so the
image never reaches the agent as an image. The page's endpoints that these replace are
left callable by clients (``undocumented``) but no longer listed, so an agent sees each operation once.
"""
from __future__ import annotations

from typing import Any, Optional

import gradio as gr

from . import common, inputs
from .errors import user_errors
from .gpu import gpu
from .registry import Registry

#: The page's endpoints a tool here replaces for agents (kept callable, unlisted).
REPLACED = ("sample", "invert", "scribble", "sdedit")


def _grid(images: list) -> Any:
    """Display copies of the images side by side (one image for the agent)."""
    from PIL import Image
    tiles = [common.big(im) for im in images]
    w, h = tiles[0].size
    grid = Image.new("RGB", (w * len(tiles), h), "white")
    for i, tile in enumerate(tiles):
        grid.paste(tile, (i * w, 0))
    return grid


def build(registry: Registry) -> None:
    """Add the tools (inside the app's ``gr.Blocks``; their components are hidden)."""

    @gpu()
    @user_errors
    def sample(count: int = 4, seed: int = 0, truncation: float = 0.7, model: Optional[str] = None) -> Any:
        """Draw new cat images from the GAN (StyleGAN2 trained on cat faces, 64 px).

        Args:
            count: how many images, 1-16 (returned side by side in one picture).
            seed: random seed, 0-2147483647; the same seed gives the same images.
            truncation: 0-2; lower gives more typical cats, higher more varied ones (0.7 is a good start).
            model: which GAN, as the models tool lists them; none for the default.
        Returns:
            the images side by side (PNG, each 256 px).
        """
        engine = registry.gan(model or None)
        count = inputs.whole(count, "Count", 1, 16)
        seed = inputs.whole(seed, "Seed", 0, common.SEED_MAX - 1)
        images = engine.sample(count, seed, truncation=inputs.real(truncation, "Truncation", 0, 2))
        return _grid(images)

    @gpu()
    @user_errors
    def invert(photo: str, steps: int = 75, space: str = "w+", find_face: bool = False, seed: int = 0,
               model: Optional[str] = None) -> Any:
        """Reconstruct a photo with the GAN: find the latent code whose image matches it (GAN inversion).

        Args:
            photo: the photo (a cat face works best; it is centre-cropped to the model's size).
            steps: optimisation steps, 1-5000; 75 takes a few seconds on a CPU.
            space: latent space, "w+" (most faithful), "w" or "z".
            find_face: find the cat face in the photo and invert that square instead of the centre.
            seed: random seed, 0-2147483647.
            model: which GAN, as the models tool lists them; none for the default.
        Returns:
            the reconstruction (PNG, 256 px).
        """
        if not photo:
            raise gr.Error("Give a photo to invert.")
        engine = registry.gan(model or None)
        result = engine.invert([photo], steps=steps, space=space, face=bool(find_face),
                               seed=inputs.whole(seed, "Seed", 0, common.SEED_MAX - 1))
        return common.big(result.images[0])

    @gpu()
    @user_errors
    def scribble(sketch: str, steps: int = 100, restarts: int = 3, seed: int = 0, model: Optional[str] = None) -> Any:
        """Turn a colour sketch of a cat into a realistic cat image that follows its strokes (GAN projection).

        Args:
            sketch: the drawing (strokes on a white or transparent background).
            steps: optimisation steps per restart, 1-5000.
            restarts: independent tries, 1-20; the one most like a cat face is kept.
            seed: random seed, 0-2147483647; other seeds give other cats.
            model: which GAN, as the models tool lists them; none for the default.
        Returns:
            the image (PNG, 256 px).
        """
        if not sketch:
            raise gr.Error("Give a sketch.")
        engine = registry.gan(model or None)
        result = engine.scribble(sketch, None, steps=steps, restarts=restarts,
                                 seed=inputs.whole(seed, "Seed", 0, common.SEED_MAX - 1))
        return common.big(result.images[0])

    @gpu()
    @user_errors
    def sdedit(image: str, strength: float = 0.6, steps: int = 50, count: int = 1, seed: int = 0,
               class_name: Optional[str] = None, prompt: Optional[str] = None) -> Any:
        """SDEdit: add noise to a photo or sketch up to a strength, then denoise it with the diffusion model.

        Args:
            image: the guide, a photo or a colour sketch.
            strength: 0-1; how much noise: 0 keeps the image, 1 ignores it (0.6 keeps the layout, makes it real).
            steps: steps of the full schedule, 1-1000; about strength × steps of them run.
            count: how many results, 1-8 (seeds seed, seed + 1, …), returned side by side in one picture.
            seed: random seed, 0-2147483647.
            class_name: for a class-conditional model, the class (e.g. "grumpy cat"); empty for its default.
            prompt: for Stable Diffusion models only, the text prompt.
        Returns:
            the results side by side (PNG).
        """
        if not image:
            raise gr.Error("Give an image to edit.")
        diff = registry.diffusion()
        result = diff.from_guide(image, None, strength=strength, steps=steps, n=inputs.whole(count, "Count", 1, 8),
                                 seed=inputs.whole(seed, "Seed", 0, common.SEED_MAX - 1),
                                 class_name=(class_name or None) if diff.classes else None,
                                 prompt=(prompt or None) if diff.kind != "pixel" else None)
        return _grid(result.images)

    picture = dict(type="filepath", sources=["upload"])
    with gr.Column(visible=False):
        for fn, ins in [
            (sample, [gr.Number(4, precision=0), gr.Number(0, precision=0), gr.Number(0.7), gr.Textbox()]),
            (invert, [gr.Image(**picture), gr.Number(75, precision=0), gr.Textbox("w+"), gr.Checkbox(False),
                      gr.Number(0, precision=0), gr.Textbox()]),
            (scribble, [gr.Image(**picture), gr.Number(100, precision=0), gr.Number(3, precision=0),
                        gr.Number(0, precision=0), gr.Textbox()]),
            (sdedit, [gr.Image(**picture), gr.Number(0.6), gr.Number(50, precision=0), gr.Number(1, precision=0),
                      gr.Number(0, precision=0), gr.Textbox(), gr.Textbox()]),
        ]:
            button = gr.Button()
            button.click(fn, ins, gr.Image(type="pil", format="png"), api_name=f"{fn.__name__}_tool",
                         concurrency_id="engines")


def hide_replaced(demo: gr.Blocks, names: Optional[tuple[str, ...]] = None) -> None:
    """The page's endpoints that a tool replaces: still callable by clients, no longer listed (nor MCP tools)."""
    for fn in demo.fns.values():
        if fn.api_name in (names or REPLACED):
            fn.api_visibility = "undocumented"
