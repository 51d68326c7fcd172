"""`python app.py` in a real browser: every tab runs one of its examples end to end and shows its result.

Each test opens the page, picks the tab, clicks the first example (as a visitor would), shortens the
run where a slider allows it (not the GAN sketch tabs: they run at their default steps), presses Run and waits
for the result image and the status line; a screenshot of the tab after the run goes to
test-artifacts/screenshots/<tab>.png.
"""
from __future__ import annotations

import pytest

from .conftest import open_tab, wait_for_image

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402

RUN_TIMEOUT = 240_000  # ms; CPU-only CI with two cores

TABS = [
    # tab label, slug, {slider elem_id: value}, text the status shows when done
    ("Invert", "invert", {"invert-steps": 40}, "PSNR"),
    ("Interpolate", "interpolate", {"interpolate-steps": 20}, "frames in"),
    # the GAN tabs run at their defaults: with the noise maps fitted a 60-step scribble is still a blur (150: a cat),
    # and these runs are the README's screenshots
    ("Scribble → GAN", "scribble", {}, "masked L2"),
    ("Edit", "edit", {}, "pixel change"),
    ("SDEdit", "sdedit", {"sdedit-steps": 25}, "samples"),
    ("GAN vs Diffusion", "compare", {}, "layout L2"),
]


def click_first_example(page, slug: str) -> None:
    """gr.Examples shows one-input examples as a gallery of buttons and several inputs as a table."""
    example = page.locator(f"#{slug}-examples").locator("button.gallery-item, tbody tr").first
    if page.locator(f"#{slug}-canvas").count():  # the sketch lands on the canvas once its file is fetched
        with page.expect_response(lambda r: "gradio_api/file=" in r.url and r.ok, timeout=30_000):
            example.click()
        page.wait_for_timeout(1_000)  # and drawn
        return
    example.click()
    photo = page.locator(f"#{slug}-photo")
    if photo.count():  # the example loads through the server: Run before it lands would send no photo
        expect(photo.locator("img").first).to_be_visible(timeout=30_000)


def set_slider(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[data-testid=number-input]")
    box.fill(str(value))
    box.press("Enter")
    expect(page.locator(f"#{elem_id} input[type=range]")).to_have_value(str(value))


@pytest.mark.parametrize("label,slug,sliders,done_text", TABS, ids=[t[1] for t in TABS])
def test_tab_runs_its_first_example(page, app_server, screenshot, label, slug, sliders, done_text):
    page.goto(app_server)
    open_tab(page, label)
    click_first_example(page, slug)
    for elem_id, value in sliders.items():
        set_slider(page, elem_id, value)
    page.locator(f"#{slug}-run").click()
    expect(page.locator(f"#{slug}-status")).to_contain_text(done_text, timeout=RUN_TIMEOUT)
    wait_for_image(page.locator(f"#{slug}-result"))
    screenshot(page, slug)


def test_sample_tab_shows_a_gallery(page, app_server, screenshot):
    page.goto(app_server)
    open_tab(page, "Sample")
    click_first_example(page, "sample")
    page.locator("#sample-run").click()
    wait_for_image(page.locator("#sample-result"))
    expect(page.locator("#sample-result img")).to_have_count(9, timeout=RUN_TIMEOUT)
    screenshot(page, "sample")


def test_models_tab_lists_the_loaded_models(page, app_server, screenshot):
    page.goto(app_server)
    open_tab(page, "Models")
    table = page.locator("#models-result")
    expect(table).to_contain_text("StyleGAN2 · cats (default)")
    expect(table).to_contain_text("pixel-space DDPM")
    page.get_by_label("GAN source").fill("/no/such/model.pkl")
    page.locator("#models-load-gan").click()
    expect(page.get_by_text("No such file or folder").first).to_be_visible(timeout=30_000)  # a clear toast
    screenshot(page, "models")


def test_models_tab_errors_replace_the_status_and_cards_stay_readable(page, app_server):
    page.goto(app_server)
    open_tab(page, "Models")
    status = page.locator("#models-status")
    page.get_by_label("GAN source").fill("weights/stylegan2-cats64")
    page.locator("#models-load-gan").click()
    expect(status).to_contain_text("already loaded", timeout=RUN_TIMEOUT)
    page.get_by_label("GAN source").fill("/no/such/model.pkl")
    page.locator("#models-load-gan").click()
    expect(status).to_contain_text("No such file or folder", timeout=30_000)
    expect(status).not_to_contain_text("already loaded")           # no stale success beside the error
    page.get_by_text("Model cards").click()
    cards = page.locator("#models-cards")
    expect(cards).to_contain_text("in the model folder")            # pictures named, not broken images
    assert cards.locator("img").count() == 0
    assert cards.bounding_box()["height"] <= 800                     # it scrolls instead of growing the page


def test_stop_cancels_a_long_job_and_frees_the_worker(page, app_server):
    page.goto(app_server)
    open_tab(page, "Invert")
    click_first_example(page, "invert")
    set_slider(page, "invert-steps", 1000)
    page.locator("#invert-run").click()
    expect(page.locator("#invert-status")).to_contain_text("step", timeout=RUN_TIMEOUT)
    page.locator("#invert-stop").click()
    # the single engine slot is free again: a quick job in another tab runs at once
    open_tab(page, "Sample")
    page.locator("#sample-run").click()
    wait_for_image(page.locator("#sample-result"), timeout=60_000)
    open_tab(page, "Invert")
    expect(page.locator("#invert-status")).not_to_contain_text("PSNR")
