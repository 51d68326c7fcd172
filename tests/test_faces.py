"""Photos as people have them: the cat face is found, framed like the training photos, and edits go back in."""
from __future__ import annotations

import numpy as np
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
    assert main(["invert", str(tmp_path / "blank.png"), "--model", str(tmp_path / "m"), "--face", "--steps", "2",
                 "--out", str(tmp_path / "out2")]) == 2
