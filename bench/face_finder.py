"""How often "find the cat's face" finds it in photos framed as people take them.

    python -m bench.face_finder [--cats ../shared/data/cats] [--photos 40] [--others DIR]
                                [--out bench/results/face_finder.json]

Held-out cat photos (the training framing: the face fills about 94 % of the frame) are placed into scenes the way
people's photos frame a cat: as is; cropped so tight the face overflows the frame; at half, a quarter and an eighth
of a larger scene (smooth gradients with noise, no faces); tilted by 15°; and two cats side by side. A find counts
when the chosen crop (`faces.crop_face`) overlaps the true frame with IoU ≥ 0.5 (for two cats, either one); no
face found counts as a miss (the app then uses the centre square and says so). Prints the hit rate per framing and
writes a contact sheet of a few scenes with the chosen crop drawn in.

Then the domain check (`faces.domain_warnings`, the warning every GAN inversion of a photo carries when no cat face
is seen at all): the share of all held-out cat photos it warns about (should be ~0) and, with ``--others``, of a
folder of photos that are not cats (e.g. scikit-image's ``skimage/data``: ``pip download --no-deps scikit-image``,
unzip; should be 1).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from engines import data as datasets
from engines import faces, imaging

Box = tuple[float, float, float]  # left, top, side


def iou(a: Box, b: Box) -> float:
    ax, ay, asd = a
    bx, by, bsd = b
    w = max(0.0, min(ax + asd, bx + bsd) - max(ax, bx))
    h = max(0.0, min(ay + asd, by + bsd) - max(ay, by))
    inter = w * h
    return inter / (asd * asd + bsd * bsd - inter)


def scene(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A background with no cat: a smooth two-colour gradient with a little noise."""
    w, h = size
    a, b = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    t = np.linspace(0, 1, w)[None, :, None] * np.ones((h, 1, 1))
    img = a * (1 - t) + b * t + rng.normal(0, 6, (h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def framings(photo: Image.Image, other: Image.Image, rng: np.random.Generator) -> dict[str, tuple[Image.Image, list[Box]]]:
    """The scenes made from one 64 px photo: name → (scene, true frames)."""
    out = {"as is (256 px)": (photo.resize((256, 256), Image.BICUBIC), [(0, 0, 256)])}
    c = 0.15  # keep the central 70 %: the face overflows the frame
    tight = photo.crop((round(64 * c), round(64 * c), round(64 * (1 - c)), round(64 * (1 - c)))).resize((300, 300), Image.BICUBIC)
    out["cropped tight (face overflows)"] = (tight, [(-300 * c / (1 - 2 * c), -300 * c / (1 - 2 * c), 300 / (1 - 2 * c))])
    for name, side, canvas in (("half of a 512×384 scene", 192, (512, 384)), ("a quarter of a 640×480 scene", 120, (640, 480)),
                               ("an eighth of a 1024×768 scene", 96, (1024, 768))):
        bg = scene(canvas, rng)
        x, y = int(rng.integers(0, canvas[0] - side)), int(rng.integers(0, canvas[1] - side))
        bg.paste(photo.resize((side, side), Image.BICUBIC), (x, y))
        out[name] = (bg, [(x, y, side)])
    bg = scene((512, 384), rng)
    tilted = photo.resize((192, 192), Image.BICUBIC).convert("RGBA").rotate(float(rng.choice([-15, 15])), Image.BICUBIC)
    x, y = int(rng.integers(0, 512 - 192)), int(rng.integers(0, 384 - 192))
    bg.paste(tilted, (x, y), tilted)
    out["tilted 15°, half of a scene"] = (bg, [(x, y, 192)])
    bg = scene((640, 320), rng)
    bg.paste(photo.resize((220, 220), Image.BICUBIC), (40, 50))
    bg.paste(other.resize((220, 220), Image.BICUBIC), (380, 50))
    out["two cats side by side"] = (bg, [(40, 50, 220), (380, 50, 220)])
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--photos", type=int, default=40, help="held-out photos used (each in every framing)")
    p.add_argument("--others", type=Path, default=None, help="a folder of photos that are not cats")
    p.add_argument("--out", type=Path, default=Path("bench/results/face_finder.json"))
    args = p.parse_args(argv)
    _, val = datasets.split(datasets.list_images(args.cats), 0.05)
    files = val[:args.photos]
    rng = np.random.default_rng(0)
    hits: dict[str, list[bool]] = {}
    sheet = []
    for i, f in enumerate(files):
        photo = imaging.load_image(f).resize((64, 64), Image.BICUBIC)
        other = imaging.load_image(files[(i + 1) % len(files)]).resize((64, 64), Image.BICUBIC)
        for name, (img, truth) in framings(photo, other, rng).items():
            crop = faces.crop_face(img, centre_if_none=True)
            hit = crop.found and max(iou(tuple(crop.box), t) for t in truth) >= 0.5
            hits.setdefault(name, []).append(bool(hit))
            if i < 3:
                shown = img.copy()
                draw = ImageDraw.Draw(shown)
                for t in truth:
                    draw.rectangle([t[0], t[1], t[0] + t[2], t[1] + t[2]], outline=(0, 255, 0), width=3)
                left, top, side = crop.box
                draw.rectangle([left, top, left + side, top + side], outline=(255, 0, 0) if crop.found else (255, 255, 0), width=3)
                shown.thumbnail((256, 256))
                canvas = Image.new("RGB", (256, 256), (255, 255, 255))
                canvas.paste(shown, ((256 - shown.width) // 2, (256 - shown.height) // 2))
                sheet.append(canvas)
    rows = [{"framing": k, "n": len(v), "found": round(float(np.mean(v)), 3)} for k, v in hits.items()]
    overall = float(np.mean([h for v in hits.values() for h in v]))
    print(f"Face finder on {len(files)} held-out photos × {len(rows)} framings (found = the chosen crop's IoU with the "
          "true frame ≥ 0.5)")
    print("| framing | photos | found |\n|---|---|---|")
    for r in rows:
        print(f"| {r['framing']} | {r['n']} | {r['found']:.2f} |")
    print(f"| **all** | {sum(r['n'] for r in rows)} | **{overall:.2f}** |")
    warned = [bool(faces.domain_warnings(imaging.load_image(f))) for f in val]
    print(f"\nDomain check: warns about {sum(warned)} of {len(val)} held-out cat photos ({np.mean(warned):.1%})")
    others = {}
    if args.others is not None:
        for f in sorted(args.others.glob("*.png")) + sorted(args.others.glob("*.jpg")):
            img = imaging.load_image(f)
            if min(img.size) >= 64 and img.mode != "L":
                others[f.stem] = bool(faces.domain_warnings(img))
        print(f"and about {sum(others.values())} of {len(others)} other photos; not warned: "
              f"{[k for k, v in others.items() if not v]}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    record = {"photos": len(files), "rows": rows, "overall": overall,
              "domain_check": {"heldout_cats": len(val), "heldout_cats_warned": sum(warned),
                               "others": others},
              "sheet": "first 3 photos × framings; green: true frames, red: the chosen crop (yellow: centre, no face)"}
    args.out.write_text(json.dumps(record, indent=2))
    imaging.make_grid(sheet, nrow=len(rows)).save(args.out.with_suffix(".png"))
    return record


if __name__ == "__main__":
    main()
