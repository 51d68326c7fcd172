"""Photos as people have them: the cat face is found, framed like the training photos, and edits go back in."""
from __future__ import annotations

import json

import numpy as np
import torch
import pytest
from PIL import Image

from engines import faces
from engines.base import LatentStudioError
from engines.cli.main import main
from engines.stylegan import editing
from engines.stylegan.checkpoints import save_gan

FRAME = (200, 100, 160)  # where the face is pasted in `_photo`


def _photo(sample: str = "assets/examples/photos/stylegan2_seed3.png") -> Image.Image:
    """A wide photo with one cat face (a sample of our model) framed like the training data at FRAME."""
    bg = Image.new("RGB", (480, 320), (90, 110, 140))
    bg.paste(Image.open(sample).convert("RGB").resize(FRAME[2:] * 2, Image.BICUBIC), FRAME[:2])
    return bg


@pytest.mark.parametrize("sample", ["stylegan2_seed3", "stylegan2_seed17", "grumpy_seed7"])
def test_face_is_found_and_framed_like_the_training_photos(sample):
    crop = faces.crop_face(_photo(f"assets/examples/photos/{sample}.png"))
    left, top, side = crop.box
    assert crop.found and abs(left - FRAME[0]) < 20 and abs(top - FRAME[1]) < 20 and abs(side - FRAME[2]) < 0.2 * FRAME[2]
    assert crop.image.size == (side, side)


def test_no_face_is_a_clear_error_or_the_centre_square_when_asked():
    blank = Image.new("RGB", (300, 200), (200, 200, 200))
    with pytest.raises(LatentStudioError, match="No cat face found"):
        faces.crop_face(blank)
    centre = faces.crop_face(blank, centre_if_none=True)
    assert not centre.found and centre.box == (50, 0, 200)


def test_paste_back_changes_only_the_face_box_and_feathers_its_edge():
    photo = _photo()
    crop = faces.crop_face(photo)
    out = np.asarray(faces.paste_back(crop, Image.new("RGB", (64, 64), (255, 0, 0))), dtype=np.int16)
    before = np.asarray(photo, dtype=np.int16)
    left, top, side = crop.box
    outside = np.ones(before.shape[:2], bool)
    outside[max(top, 0):top + side, max(left, 0):left + side] = False
    assert (out[outside] == before[outside]).all()
    centre = out[top + side // 2, left + side // 2]
    assert centre[0] > 240 and centre[1] < 15                        # the edit is there
    edge = out[top + side // 2, left + 1]                            # blended into the photo at the border
    assert abs(int(edge[0]) - int(before[top + side // 2, left + 1][0])) < 60


def test_invert_and_edit_work_on_the_face_of_a_photo(tiny_engine, tmp_path):
    photo = _photo()
    inv = tiny_engine.invert([photo], face=True, steps=2)
    (box,) = inv.options["face_boxes"]
    assert abs(box[0] - FRAME[0]) < 20 and inv.images[0].size == (32, 32)
    d = tiny_engine.directions("ganspace", k=1, n_samples=200)[0]
    res = editing.edit(tiny_engine, photo, d, [0.0, 3.0], face=True, invert_options={"steps": 2})
    assert [im.size for im in res.images] == [photo.size] * 2 and res.options["face_box"] == box
    a, b = (np.asarray(im, dtype=np.int16) for im in res.images)
    assert np.abs(a - b)[:, :150].max() == 0 and np.abs(a - b).max() > 0  # only the face region moved


def test_cli_invert_face_writes_the_reconstruction_back_into_the_photo(tmp_path, tiny_g, tiny_d):
    save_gan(tmp_path / "m", tiny_g, tiny_d)
    _photo().save(tmp_path / "photo.png")
    assert main(["invert", str(tmp_path / "photo.png"), "--model", str(tmp_path / "m"), "--face", "--steps", "2",
                 "--out", str(tmp_path / "out")]) == 0
    assert Image.open(tmp_path / "out" / "photo_in_photo.png").size == (480, 320)
    Image.new("RGB", (300, 200), (200, 200, 200)).save(tmp_path / "blank.png")
    # no face: the centre square is inverted, and the box and the warnings say so
    assert main(["invert", str(tmp_path / "blank.png"), "--model", str(tmp_path / "m"), "--face", "--steps", "2",
                 "--out", str(tmp_path / "out2")]) == 0
    (m,) = json.loads((tmp_path / "out2" / "metrics.json").read_text())["images"].values()
    assert m["face_box"] == [50, 0, 200] and m["face_found"] is False
    assert m["warnings"] == [faces.CENTRE_USED, faces.NOT_A_CAT]
    (found,) = json.loads((tmp_path / "out" / "metrics.json").read_text())["images"].values()
    assert found["face_found"] is True and found["warnings"] == [] and abs(found["face_box"][0] - FRAME[0]) < 20


@pytest.mark.parametrize("sample", ["stylegan2_seed3", "grumpy_seed7"])
def test_a_face_that_fills_the_frame_is_found_whole(sample):
    """A close-up (the face overflows the photo): the whole face is chosen, not a nose or an eye inside it."""
    big = Image.open(f"assets/examples/photos/{sample}.png").convert("RGB").resize((400, 400), Image.BICUBIC)
    close_up = big.crop((40, 70, 360, 330))  # 320×260: the frame of the face is (-40, -70, 400)
    crop = faces.crop_face(close_up)
    left, top, side = crop.box
    assert crop.found and side >= 0.6 * min(close_up.size)
    assert abs(left + 40) < 50 and abs(top + 70) < 50 and abs(side - 400) <= 0.25 * 400


def test_a_tilted_face_is_found():
    bg = Image.new("RGB", (520, 400), (90, 110, 140))
    tilted = Image.open("assets/examples/photos/stylegan2_seed17.png").convert("RGBA").resize((200, 200)).rotate(15, Image.BICUBIC)
    bg.paste(tilted, (200, 100), tilted)
    crop = faces.crop_face(bg)
    left, top, side = crop.box
    assert crop.found and abs(left + side / 2 - 300) < 30 and abs(top + side / 2 - 200) < 30 and 150 < side < 280


def test_photos_without_a_cat_face_carry_a_warning_and_cat_photos_none(tiny_engine):
    gradient = Image.linear_gradient("L").convert("RGB").resize((300, 200))
    assert faces.domain_warnings(gradient) == [faces.NOT_A_CAT]
    assert faces.domain_warnings(_photo()) == []
    inv = tiny_engine.invert([gradient, _photo()], steps=1)
    assert inv.metrics["warnings"] == [[faces.NOT_A_CAT], []]


def test_edit_from_a_photo_reports_how_well_it_was_rebuilt(tiny_engine):
    d = tiny_engine.directions("ganspace", k=1, n_samples=200)[0]
    res = editing.edit(tiny_engine, Image.linear_gradient("L").convert("RGB").resize((64, 64)), d, [0.0, 1.0],
                       invert_options={"steps": 2})
    rebuild = res.metrics["rebuild"]
    assert rebuild["psnr"] > 0 and 0 <= rebuild["ssim"] <= 1 and rebuild["warnings"] == [faces.NOT_A_CAT]
    latent = tiny_engine.latent_record(torch.zeros(1, tiny_engine.G.num_ws, tiny_engine.G.w_dim), "w+")
    assert "rebuild" not in editing.edit(tiny_engine, latent, d, [0.0]).metrics  # a latent has no photo to rebuild


def test_a_users_own_face_box_is_used_and_a_bad_one_named():
    photo = _photo()
    crop = faces.crop_at(photo, "200, 100, 160")
    assert crop.found and crop.box == (200, 100, 160) and crop.image.size == (160, 160)
    for bad in ("200, 100", "a, b, c", (900, 100, 50), (10, 10, 4)):
        with pytest.raises(LatentStudioError, match="face box"):
            faces.crop_at(photo, bad)
    drawn = np.asarray(faces.draw_box(crop, width=2), dtype=np.int16)
    assert tuple(drawn[150, 200]) == (230, 40, 40) and (drawn[5, 5] == np.asarray(photo)[5, 5]).all()
    centre = np.asarray(faces.draw_box(faces.centre_crop(photo), width=2))
    assert tuple(centre[100, 80]) == (240, 200, 0)  # the centre square is drawn yellow


def test_the_domain_checks_early_stop_answers_as_the_whole_search_does():
    """`any_face` stops at the first box; on faces, tilted faces, textures and blanks it agrees with `detections`."""
    pictures = [Image.open(f"assets/examples/photos/stylegan2_seed{s}.png").convert("RGB") for s in (1, 3, 17)]
    pictures += [Image.linear_gradient("L").convert("RGB").resize((300, 200)),
                 _photo().rotate(15, Image.BICUBIC).resize((180, 180)),
                 Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8))]
    for img in pictures:
        for fraction, neighbours in ((faces.DOMAIN_MIN_FRACTION, faces.DOMAIN_NEIGHBOURS), (0.08, 3)):
            assert faces.any_face(img, fraction, neighbours) == bool(faces.detections(img, fraction, neighbours))
