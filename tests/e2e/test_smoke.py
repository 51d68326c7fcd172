"""Harness smoke tests: a tiny self-contained Gradio app, driven by Chromium and by gradio_client.

They exercise the `page`/`screenshot` fixtures and the helpers without needing the real app.
"""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import free_port, open_tab, wait_for_image

gr = pytest.importorskip("gradio")

SWATCH = (200, 40, 40)
SIZE = (24, 40)  # height, width


def make_swatch(label: str):
    """Returns a solid-colour image and a caption (an endpoint with one input and two outputs)."""
    return np.full((*SIZE, 3), SWATCH, dtype=np.uint8), f"made {label}"


@pytest.fixture(scope="module")
def tiny_app():
    with gr.Blocks(title="harness smoke") as demo:
        with gr.Tabs():
            with gr.Tab("First"):
                gr.Markdown("Nothing here.")
            with gr.Tab("Second → GAN"):  # a non-ASCII label, like the app's "Scribble → GAN"
                name = gr.Textbox(value="swatch", label="Name", elem_id="name")
                button = gr.Button("Make image", elem_id="make")
                image = gr.Image(label="Result", type="numpy", interactive=False, elem_id="result")
                caption = gr.Textbox(label="Caption", elem_id="caption")
        button.click(make_swatch, inputs=name, outputs=[image, caption], api_name="make")
    port = free_port()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=port, server_name="127.0.0.1", quiet=True)
    try:
        yield url.rstrip("/")
    finally:
        demo.close()


def test_browser_clicks_tab_and_gets_image(tiny_app, page, screenshot):
    from playwright.sync_api import expect

    page.goto(tiny_app)
    expect(page.get_by_role("tab", name="First", exact=True)).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("button", name="Make image")).to_be_hidden()  # lives in the other tab

    open_tab(page, "Second → GAN")
    expect(page.locator("#result img")).to_have_count(0)  # no value yet: no <img> at all
    page.get_by_role("button", name="Make image").click()

    img = wait_for_image(page.locator("#result"))
    assert img.evaluate("e => [e.naturalHeight, e.naturalWidth]") == list(SIZE)
    expect(page.locator("#caption textarea")).to_have_value("made swatch")
    path = screenshot(page, "smoke-second-tab")
    assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gradio_client_calls_named_endpoint(tiny_app):
    from gradio_client import Client
    from PIL import Image

    client = Client(tiny_app, verbose=False)
    image_path, caption = client.predict("via api", api_name="/make")
    assert caption == "made via api"
    with Image.open(image_path) as im:  # images come back as a local file path (downloaded by the client)
        assert im.size == (SIZE[1], SIZE[0])
        assert im.convert("RGB").getpixel((5, 5)) == pytest.approx(SWATCH, abs=8)  # webp is lossy
