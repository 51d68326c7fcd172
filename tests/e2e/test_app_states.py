"""`python app.py` in a real browser, beyond the happy path: what the page shows after Stop, after an error,
for a before/after comparison and for the Edit tab's own layer-range example (picked from the Sample tab)."""
from __future__ import annotations

import re

import pytest

from .conftest import open_tab, wait_for_image
from .test_tabs import RUN_TIMEOUT, click_first_example, set_slider

pytest.importorskip("playwright")
from playwright.sync_api import expect  # noqa: E402


def test_stop_says_where_it_stopped_and_keeps_the_partial_result(page, app_server, screenshot):
    page.goto(app_server)
    open_tab(page, "Invert")
    click_first_example(page, "invert")
    set_slider(page, "invert-steps", 1000)
    page.locator("#invert-run").click()
    status = page.locator("#invert-status")
    expect(status).to_contain_text(re.compile(r"step \d+ / 1000"), timeout=RUN_TIMEOUT)
    page.locator("#invert-stop").click()
    expect(status).to_contain_text(re.compile(r"Stopped at step \d+ / 1000"), timeout=30_000)
    step = int(re.search(r"Stopped at step (\d+)", status.inner_text()).group(1))
    assert 0 < step < 1000
    page.wait_for_timeout(1500)  # nothing from the cancelled job may overwrite the final state
    expect(status).to_contain_text(f"Stopped at step {step} / 1000")
    wait_for_image(page.locator("#invert-result"))                              # the best image so far
    expect(page.locator("#invert-latent")).to_contain_text("latent_stopped")  # and its latent
    page.get_by_text("All numbers (JSON)").click()
    expect(page.locator("#invert-metrics")).to_contain_text('"stopped": true')  # not the previous job's numbers
    screenshot(page, "invert-stopped")


def test_before_after_and_an_error_that_names_its_field(page, app_server, screenshot):
    page.goto(app_server)
    open_tab(page, "Invert")
    click_first_example(page, "invert")
    set_slider(page, "invert-steps", 20)
    page.locator("#invert-run").click()
    expect(page.locator("#invert-status")).to_contain_text("PSNR", timeout=RUN_TIMEOUT)
    slider = page.locator("#invert-before-after")
    expect(slider.locator("img")).to_have_count(2, timeout=30_000)  # target and reconstruction, one over the other
    wait_for_image(slider)
    screenshot(page, "invert-before-after")

    page.get_by_text("Loss weights and more").click()
    weight = page.get_by_label("Pixel L2 weight")
    # the accordion mounts its fields when first opened, and a field that is still mounting can put its
    # value back over what was typed: type again until the value stays
    for _ in range(5):
        weight.fill("-3")
        weight.press("Tab")
        page.wait_for_timeout(500)
        if weight.input_value() == "-3":
            break
    expect(weight).to_have_value("-3")
    page.locator("#invert-run").click()
    message = "Pixel L2 weight must be between 0.0 and 10000.0, got -3"
    # On a loaded 2-core CI machine the run can wait in the queue behind the first run's follow-up events:
    # wait as long as any run may take for the status line, then the toast (an error toast stays until closed).
    expect(page.locator("#invert-status")).to_contain_text(message, timeout=RUN_TIMEOUT)
    expect(page.locator(".toast-body").filter(has_text=message)).to_have_count(1, timeout=30_000)
    expect(page.locator("#invert-status .error")).to_be_hidden()  # no pill over the end of the message
    wait_for_image(page.locator("#invert-result"))          # the previous result is still on the page
    expect(page.locator("#invert-latent")).to_contain_text(re.compile(r"latent\s*\.npz"))
    screenshot(page, "invert-error")


def test_a_sample_goes_to_edit_with_the_layer_range_example(page, app_server, screenshot):
    page.goto(app_server)
    open_tab(page, "Sample")
    page.locator("#sample-run").click()
    expect(page.locator("#sample-result img")).to_have_count(9, timeout=RUN_TIMEOUT)
    page.locator("#sample-result img").nth(4).click()
    expect(page.locator("#sample-picked")).to_contain_text("Picked image 5", timeout=30_000)
    page.locator("#sample-to-edit").click()
    expect(page.get_by_role("tab", name="Edit", exact=True)).to_have_attribute("aria-selected", "true")
    layers = page.locator("#edit-layers input")
    layers.fill("0-5")  # the example the field's own help gives
    layers.press("Enter")
    page.locator("#edit-run").click()
    expect(page.locator("#edit-status")).to_contain_text("on layers w+ rows 0 to 5", timeout=RUN_TIMEOUT)
    expect(page.locator("#edit-metrics")).to_contain_text("+3.0")
    expect(page.locator("#edit-before-after img")).to_have_count(2)
    wait_for_image(page.locator("#edit-strip"))
    assert page.locator("#edit-strip img").bounding_box()["height"] >= 100  # 64 px frames drawn large, not tiny
    screenshot(page, "edit-from-sample")


def test_a_new_grid_forgets_the_old_pick_and_a_count_past_the_limit_is_named(page, app_server):
    page.goto(app_server)
    open_tab(page, "Sample")
    page.locator("#sample-run").click()
    expect(page.locator("#sample-result img")).to_have_count(9, timeout=RUN_TIMEOUT)
    page.locator("#sample-result img").nth(2).click()
    expect(page.locator("#sample-picked")).to_contain_text("Picked image 3", timeout=30_000)
    page.locator("#sample-run").click()
    expect(page.locator("#sample-picked")).to_contain_text("Click a sample", timeout=RUN_TIMEOUT)
    count = page.get_by_label("Images")
    count.fill("100")
    count.press("Tab")
    page.locator("#sample-run").click()
    expect(page.locator(".toast-body").filter(has_text="Images must be")).to_have_count(1, timeout=30_000)


def test_invert_takes_a_photo_from_the_webcam_like_the_other_photo_tabs(page, app_server):
    page.goto(app_server)
    open_tab(page, "Invert")
    expect(page.locator("#invert-photo").get_by_label("Capture from camera")).to_have_count(1)


def test_a_failed_first_run_leaves_no_empty_before_after_box(page, app_server):
    page.goto(app_server)
    open_tab(page, "Invert")
    page.locator("#invert-run").click()  # no photo
    expect(page.locator("#invert-status")).to_contain_text("Upload a photo", timeout=RUN_TIMEOUT)
    expect(page.locator("#invert-before-after")).to_be_hidden(timeout=10_000)


def test_the_latent_space_picker_keeps_its_order_after_a_models_load(page, app_server):
    page.goto(app_server)
    open_tab(page, "Models")
    page.get_by_label("GAN source").fill("weights/stylegan2-grumpy64")
    page.locator("#models-load-gan").click()
    expect(page.locator("#models-status")).to_contain_text("now selected", timeout=RUN_TIMEOUT)
    open_tab(page, "Invert")
    labels = page.locator("#invert-space label")
    expect(labels).to_have_count(3)
    assert [t.strip() for t in labels.all_inner_texts()] == ["w+", "w", "z"]


def test_drag_tab_places_points_by_clicking_and_drags(page, app_server, screenshot):
    page.goto(app_server)
    open_tab(page, "Drag")
    page.locator("#drag-new").click()
    expect(page.locator("#drag-status")).to_contain_text("Click a handle", timeout=RUN_TIMEOUT)
    image = page.locator("#drag-canvas img")
    wait_for_image(page.locator("#drag-canvas"))
    box = image.bounding_box()
    image.click(position={"x": box["width"] * 20.5 / 64, "y": box["height"] * 28.5 / 64})
    expect(page.locator("#drag-status")).to_contain_text("Now click its target", timeout=30_000)
    image.click(position={"x": box["width"] * 20.5 / 64, "y": box["height"] * 22.5 / 64})
    expect(page.locator("#drag-status")).to_contain_text("1 pair(s)", timeout=30_000)
    expect(page.locator("#drag-points textarea")).to_have_value(re.compile(r"^2\d,2\d:2\d,2\d$"))
    page.locator("#drag-run").click()
    expect(page.locator("#drag-status")).to_contain_text(re.compile(r"(Arrived|Stopped) after \d+ steps"),
                                                         timeout=RUN_TIMEOUT)
    expect(page.locator("#drag-before-after img")).to_have_count(2)
    screenshot(page, "drag")
    page.locator("#drag-to-edit").click()  # the dragged latent (its warp with it) goes on to Edit
    expect(page.get_by_role("tab", name="Edit", exact=True)).to_have_attribute("aria-selected", "true")
    page.locator("#edit-run").click()
    expect(page.locator("#edit-before-after img")).to_have_count(2, timeout=RUN_TIMEOUT)
