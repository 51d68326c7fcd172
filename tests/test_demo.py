"""The app over the default models: every named endpoint answers gradio_client, results make sense, and
user errors come back as clear messages while the app keeps serving."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gr = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

from demo import build_demo  # noqa: E402
from engines.diffusion.tiny import tiny_pixel_pipeline  # noqa: E402
from demo.registry import DEFAULT_GAN, Registry  # noqa: E402
from engines.diffusion.engine import DiffusionEngine  # noqa: E402
from engines.stylegan.engine import GanEngine  # noqa: E402

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "examples"
PHOTO = ASSETS / "photos" / "stylegan2_seed1.png"
PHOTO_B = ASSETS / "photos" / "stylegan2_seed3.png"
SKETCH = ASSETS / "sketches" / "grumpy_filled.png"


@pytest.fixture(scope="module")
def client():
    registry = Registry(GanEngine("default", device="cpu"), DiffusionEngine("default", device="cpu"), device="cpu")
    demo = build_demo(registry)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(url, verbose=False)
    finally:
        demo.close()


def canvas(path=SKETCH):
    return {"background": handle_file(str(path)), "layers": [], "composite": handle_file(str(path))}


def test_every_tab_has_a_named_endpoint(client):
    names = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert {"/invert", "/interpolate", "/scribble", "/edit", "/sdedit", "/compare", "/drag", "/translate", "/sample",
            "/models", "/load_gan", "/load_diffusion", "/polish_scribble", "/polish_edit", "/polish_drag"} <= names
    assert {"/sample_tool", "/invert_tool", "/scribble_tool", "/sdedit_tool"} <= names  # the tools for agents


def test_as_an_mcp_server_each_operation_is_listed_once(tiny_engine):
    """With ``--mcp-server`` the page's endpoints that a plain tool replaces are unlisted (still callable)."""
    from demo.mcp_tools import REPLACED
    demo = build_demo(Registry(tiny_engine, DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu"),
                               device="cpu"), mcp_server=True)
    listed = {fn.api_name for fn in demo.fns.values() if fn.api_visibility == "public"}
    assert not set(REPLACED) & listed and {f"{name}_tool" for name in REPLACED} <= listed


def test_invert_reconstructs_and_its_latent_feeds_interpolate(client):
    target, recon, status, curve, metrics, latent, pair, located = client.predict(
        handle_file(str(PHOTO)), DEFAULT_GAN, "w+", "adam", 30, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0, api_name="/invert")
    assert not isinstance(located, str)  # no face search: no picture of a box
    assert Image.open(recon).size == (256, 256) and Image.open(target).size == (256, 256)  # display copies
    before, after = pair                                             # the before/after slider: target, reconstruction
    assert np.array_equal(np.asarray(Image.open(before)), np.asarray(Image.open(target)))
    assert json.loads(metrics)["psnr_db"] > 18 and "PSNR" in status
    losses = [row[1] for row in curve["data"]]
    assert len(losses) == 30 and min(losses[-5:]) < losses[0]       # the live curve is the optimisation's
    with np.load(latent) as npz:
        assert npz["latent"].shape[0] == 1 and str(npz["space"]) == "w+"
    gif, text, strip, fade, files, summary = client.predict(
        None, handle_file(str(PHOTO_B)), handle_file(latent), None, DEFAULT_GAN, "w+", 5, 8, 20, 0,
        api_name="/interpolate")
    assert Image.open(gif).n_frames == 5 and Image.open(gif).size == (256, 256) and "5 frames" in text
    assert sorted(Path(f).suffix for f in files) == [".gif", ".json", ".mp4", ".npz"]
    assert "inversion of" in summary and "PSNR" in summary and len(summary) < 1500  # a summary, not the loss curve
    assert "loss_curve" in json.loads(Path(next(f for f in files if f.endswith(".json"))).read_text())["metrics"]["inversion"][0]


def test_invert_warns_about_a_photo_without_a_cat_face_and_shows_the_face_it_used(client, tmp_path):
    gradient = tmp_path / "gradient.png"
    Image.linear_gradient("L").convert("RGB").resize((300, 200)).save(gradient)
    _, _, status, _, metrics, _, _, located = client.predict(
        handle_file(str(gradient)), DEFAULT_GAN, "w+", "adam", 5, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0, None, True,
        api_name="/invert")
    assert Image.open(located).size == (300, 200)  # the photo with the square it used drawn on it
    told = json.loads(metrics)["warnings"]
    assert told[0] == "no cat face found: the centre square was used" and "no cat face in this photo" in told[1]
    assert status.startswith("⚠") and "PSNR" in status
    _, _, status, _, metrics, _, _, _ = client.predict(
        handle_file(str(PHOTO)), DEFAULT_GAN, "w+", "adam", 5, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0, None, True,
        api_name="/invert")
    assert json.loads(metrics)["warnings"] == [] and "cat face found: left" in status and "⚠" not in status
    # the user's own square wins over the one found; a bad one is named
    _, _, status, _, metrics, _, _, _ = client.predict(
        handle_file(str(PHOTO)), DEFAULT_GAN, "w+", "adam", 5, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0, None, True, 0, True,
        "20, 30, 150", api_name="/invert")
    assert json.loads(metrics)["face_box"] == [20, 30, 150]
    with pytest.raises(Exception, match="A face box is three numbers"):
        client.predict(handle_file(str(PHOTO)), DEFAULT_GAN, "w+", "adam", 5, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0, None,
                       True, 0, True, "20, 30", api_name="/invert")


def test_invert_with_lbfgs_does_not_fit_noise_maps_even_if_ticked(client):
    *_, metrics, _, _, _ = client.predict(
        handle_file(str(PHOTO)), DEFAULT_GAN, "w+", "lbfgs", 3, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0, None, False, 0, True,
        api_name="/invert")
    assert json.loads(metrics)["options"]["optimize_noise"] is False and json.loads(metrics)["options"]["optimizer"] == "lbfgs"


def test_scribble_follows_the_strokes(client):
    result, status, over, mask, metrics, latent = client.predict(canvas(), DEFAULT_GAN, "w+", 60, 0.01, 1, 0,
                                                                 api_name="/scribble")
    assert Image.open(result).size == (256, 256)
    m = json.loads(metrics)
    assert 0 <= m["masked_l2"] < 0.1 and "masked L2" in status
    assert np.asarray(Image.open(mask)).mean() > 100                # the filled sketch covers most of the face


def test_edit_strip_runs_from_minus_to_plus_s(client):
    gallery, status, strip, metrics, latent, table, pair = client.predict(
        DEFAULT_GAN, "Random sample", 3, None, None, "dark_fur", 4, 5, "all", None, None, api_name="/edit")
    assert [item["caption"] for item in gallery] == ["-4.0", "-2.0", "+0.0", "+2.0", "+4.0"]
    change = json.loads(metrics)["metrics"]["pixel_change"]
    assert change[2] == 0 and change[0] > 1 and change[4] > 1
    assert "| +4.0 |" in table and "np." not in table and "np." not in metrics   # readable, no Python reprs
    assert np.array_equal(np.asarray(Image.open(pair[0])), np.asarray(Image.open(gallery[2]["image"])))


def test_edit_takes_the_layer_range_example_of_its_label(client):
    *_, metrics, latent, table, pair = client.predict(
        DEFAULT_GAN, "Random sample", 3, None, None, "dark_fur", 4, 3, "0-5", None, None, api_name="/edit")
    assert json.loads(metrics)["options"]["layers"] == [0, 6] and "rows 0 to 5" in table
    with pytest.raises(Exception, match="Unknown layer range 'eyes'"):
        client.predict(DEFAULT_GAN, "Random sample", 3, None, None, "dark_fur", 4, 3, "eyes", None, None,
                       api_name="/edit")


def test_drag_moves_a_handle_of_a_sample(client):
    out = client.predict(DEFAULT_GAN, "20,28:20,22", 30, None, 3, api_name="/drag")
    canvas, status, pair, metrics, latent = out[:5]  # (the page's own state follows)
    m = json.loads(metrics)["metrics"]
    assert m["distance_after"][0] < m["distance_before"][0] == 6.0 and "distance to the targets 6 →" in status
    assert Image.open(canvas).size == (256, 256) and Path(latent).suffix == ".npz"
    with pytest.raises(Exception, match="handle:target pairs"):
        client.predict(DEFAULT_GAN, "20,28;20", 30, None, 3, api_name="/drag")


def test_sdedit_gives_n_samples_and_is_reproducible(client):
    args = (canvas(), 0.6, "ddim", 10, 3.0, 0.0, "grumpy cat", "", "", 2, 7, False)
    gallery, status, preview, metrics, download, pair = client.predict(*args, api_name="/sdedit")
    assert "6 ddim steps (strength 0.6 × 10" in status                # says why 6 of the 10 steps ran
    assert "cat face found in" in status and "patch realism" in status  # realism beside faithfulness, as elsewhere
    assert len(json.loads(metrics)["metrics"]["holds_face"]) == 2
    again = client.predict(*args, api_name="/sdedit")[0]
    assert len(gallery) == 2 and Path(download).suffix == ".zip"
    first = [np.asarray(Image.open(item["image"])) for item in gallery]
    assert all(np.array_equal(a, np.asarray(Image.open(b["image"]))) for a, b in zip(first, again))
    assert json.loads(metrics)["options"]["seeds"] == [7, 8]


def test_compare_runs_both_engines_on_one_sketch(client):
    gan, diffusion, status, table, details = client.predict(canvas(), DEFAULT_GAN, 30, 0.6, 10, 0, api_name="/compare")
    d = json.loads(details)
    assert set(d) == {"GAN", "Diffusion"} and all(d[k]["seconds"] > 0 for k in d)
    assert "| GAN |" in table and "| Diffusion |" in table and Image.open(diffusion).size == (256, 256)
    # the status says how each did, measured the same way (not just "done")
    assert status.startswith("GAN: ") and " · Diffusion: " in status and status.count("distance to photos") == 2
    assert all(isinstance(d[k]["photo_distance"], float) for k in d)


def test_models_lists_what_is_loaded_and_loads_more(client):
    assert "StyleGAN2 · cats (default)" in client.predict(api_name="/models")[0]
    status, table, *_ = client.predict("weights/stylegan2-grumpy64", "stylegan2", api_name="/load_gan")
    assert "StyleGAN2 · grumpy cat" in status and "stylegan2-grumpy64" in table  # the shipped entry, not a new one
    again, table_again, *_ = client.predict("weights/stylegan2-grumpy64/", "stylegan2", api_name="/load_gan")
    assert "already loaded" in again and table_again.count("stylegan2-grumpy64") == table.count("stylegan2-grumpy64")
    with pytest.raises(Exception, match="No such file or folder"):
        client.predict("/no/such/model", "stylegan2", api_name="/load_gan")


@pytest.mark.parametrize("endpoint,args,message", [
    ("/scribble", ({"background": None, "layers": [], "composite": None}, DEFAULT_GAN, "w+", 20, 0.01, 1, 0),
     "sketch is empty"),
    ("/invert", (None, DEFAULT_GAN, "w+", "adam", 20, 1.0, 0.0, "disc", 0.1, 0.0, 1, 0), "Upload a photo"),
    ("/sdedit", (canvas(), 0.6, "ddim", 5000, 3.0, 0.0, "grumpy cat", "", "", 1, 0, False), "Steps must be|greater than maximum value 1000"),
    ("/sample", ("No such model", 4, 0, 0.7), "Unknown model|not in the list of choices"),
    ("/sample", (DEFAULT_GAN, 4, -3, 0.7), "Seed must be a whole number between 0 and"),
    ("/invert", (handle_file(str(PHOTO)), DEFAULT_GAN, "w+", "adam", 20, -1.0, 0.0, "disc", 0.1, 0.0, 1, 0),
     "Pixel L2 weight must be between 0.0 and 10000.0"),
])
def test_user_errors_are_clear_and_the_app_keeps_serving(client, endpoint, args, message):
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name=endpoint)
    assert len(client.predict(DEFAULT_GAN, 2, 0, 0.7, api_name="/sample")) == 2


def test_build_demo_over_a_single_engine(tiny_engine):
    demo = build_demo(tiny_engine)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    try:
        gallery = Client(url, verbose=False).predict("stylegan2 32px · loaded", 4, 3, 0.7, api_name="/sample")
        assert len(gallery) == 4
    finally:
        demo.close()


def test_translate_gives_a_before_after_pair_with_its_numbers(client):
    pair, status, metrics, download = client.predict(handle_file(str(PHOTO)), "cat", "grumpy cat", 0.5, 3.0, 10, 0,
                                                     False, api_name="/translate")
    before, after = (Image.open(p["path"] if isinstance(p, dict) else p) for p in pair)
    assert before.size == after.size and not np.array_equal(np.asarray(before), np.asarray(after))
    assert "cat → grumpy cat" in status and "5 inversion + 5 DDIM steps" in status and "layout kept" in status
    assert json.loads(metrics)["options"]["class_name"] == "grumpy cat" and Path(download).suffix == ".zip"
    with pytest.raises(Exception, match="Unknown target class 'dog'"):  # the dropdown takes prompts too
        client.predict(handle_file(str(PHOTO)), "cat", "dog", 0.5, 3.0, 10, 0, False, api_name="/translate")


def test_a_gan_result_can_be_polished_with_diffusion(client):
    pair, status = client.predict(handle_file(str(PHOTO)), 0.3, api_name="/polish_scribble")
    gan, polished = (Image.open(p["path"] if isinstance(p, dict) else p) for p in pair)
    assert gan.size == polished.size and not np.array_equal(np.asarray(gan), np.asarray(polished))
    assert "Polished" in status and "15 ddim steps" in status and "L2 to the GAN image" in status
    with pytest.raises(Exception, match="Nothing to polish yet"):
        client.predict(None, 0.3, api_name="/polish_scribble")


def test_polish_takes_the_after_of_a_slider_and_the_end_of_a_strip():
    from demo.polish import gan_image
    a, b = Image.new("RGB", (8, 8), "red"), Image.new("RGB", (8, 8), "blue")
    assert gan_image((a, b)).getpixel((0, 0)) == (0, 0, 255)
    assert gan_image([(a, "-s"), (b, "+s")]).getpixel((0, 0)) == (0, 0, 255)
    assert gan_image(a).getpixel((0, 0)) == (255, 0, 0)


def test_gan_vs_diffusion_on_a_photo_edit(client):
    gallery, table = client.predict(handle_file(str(PHOTO)), DEFAULT_GAN, 4, 0.5, False, api_name="/compare_edits")
    assert len(gallery) == 3 and [item["caption"] for item in gallery][1:] == ["GAN: grumpy", "Diffusion: grumpy cat"]
    assert "| GAN |" in table and "| Diffusion |" in table and "distance to target photos (the photo:" in table
