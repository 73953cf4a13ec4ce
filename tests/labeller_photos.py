"""Small drawn car photos with known views for the labeller tests (a fraction of a second)."""

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from cargen.views import VIEWS


def _side(draw, w, h, body, x0, x1):
    """A side profile between x0 and x1 (fractions), front toward the image left."""
    top, bottom = 0.46 * h, 0.72 * h
    draw.rounded_rectangle([x0 * w, top, x1 * w, bottom], radius=0.05 * h, fill=body)
    span = x1 - x0
    cabin = [((x0 + 0.28 * span) * w, top), ((x0 + 0.38 * span) * w, 0.3 * h),
             ((x0 + 0.72 * span) * w, 0.3 * h), ((x0 + 0.84 * span) * w, top)]
    draw.polygon(cabin, fill=body)
    draw.polygon([(cabin[0][0] + 6, top - 1), (cabin[1][0] + 4, 0.33 * h),
                  (cabin[2][0] - 4, 0.33 * h), (cabin[3][0] - 6, top - 1)], fill=(150, 190, 220))
    for centre in (x0 + 0.2 * span, x0 + 0.8 * span):
        r = 0.1 * h
        draw.ellipse([centre * w - r, bottom - r, centre * w + r, bottom + r], fill=(25, 25, 25))
        draw.ellipse([centre * w - r / 2, bottom - r / 2, centre * w + r / 2, bottom + r / 2],
                     fill=(160, 160, 160))
    draw.rectangle([x0 * w, 0.5 * h, (x0 + 0.035) * w, 0.56 * h], fill=(255, 230, 120))


def _face(draw, w, h, body, x0, x1, lamp):
    """A car seen head-on (front: white lamps) or from behind (red lamps) between x0 and x1."""
    top, bottom = 0.44 * h, 0.74 * h
    span = x1 - x0
    draw.rounded_rectangle([x0 * w, top, x1 * w, bottom], radius=0.05 * h, fill=body)
    draw.polygon([((x0 + 0.15 * span) * w, top), ((x0 + 0.25 * span) * w, 0.28 * h),
                  ((x1 - 0.25 * span) * w, 0.28 * h), ((x1 - 0.15 * span) * w, top)], fill=body)
    draw.polygon([((x0 + 0.2 * span) * w, top - 1), ((x0 + 0.28 * span) * w, 0.31 * h),
                  ((x1 - 0.28 * span) * w, 0.31 * h), ((x1 - 0.2 * span) * w, top - 1)],
                 fill=(150, 190, 220))
    for lx in (x0 + 0.06 * span, x1 - 0.24 * span):
        draw.rounded_rectangle([lx * w, 0.5 * h, (lx + 0.18 * span) * w, 0.57 * h],
                               radius=3, fill=lamp)
    draw.rectangle([(x0 + 0.35 * span) * w, 0.6 * h, (x1 - 0.35 * span) * w, 0.68 * h],
                   fill=(30, 30, 30))
    for wx in (x0 + 0.08 * span, x1 - 0.2 * span):
        draw.rectangle([wx * w, bottom, (wx + 0.12 * span) * w, bottom + 0.07 * h],
                       fill=(25, 25, 25))


def car_photo(view, seed, size=(192, 144)):
    """A drawn photo of a car from `view` (or an interior for `other`) as a PIL image."""
    rng = np.random.default_rng(seed)
    w, h = size
    sky = tuple(int(v) for v in rng.integers(150, 230, 3))
    image = Image.new("RGB", size, sky)
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0.68 * h, w, h], fill=tuple(int(v) for v in rng.integers(70, 120, 3)))
    body = tuple(int(v) for v in rng.integers(20, 230, 3))
    front_lamp, rear_lamp = (255, 245, 200), (220, 30, 30)
    if view == "other":
        draw.rectangle([0, 0, w, h], fill=(40, 38, 36))
        draw.ellipse([0.3 * w, 0.2 * h, 0.7 * w, 0.9 * h], outline=(15, 15, 15), width=9)
        draw.rectangle([0.46 * w, 0.55 * h, 0.54 * w, h], fill=(15, 15, 15))
        draw.rectangle([0.05 * w, 0.05 * h, 0.95 * w, 0.18 * h], fill=body)
        return image
    base = view.replace("right", "left")
    if base == "left":
        _side(draw, w, h, body, 0.1, 0.9)
    elif base == "front":
        _face(draw, w, h, body, 0.22, 0.78, front_lamp)
    elif base == "rear":
        _face(draw, w, h, body, 0.22, 0.78, rear_lamp)
    elif base == "front_left":
        _side(draw, w, h, body, 0.33, 0.92)
        _face(draw, w, h, body, 0.08, 0.36, front_lamp)
    elif base == "rear_left":
        _side(draw, w, h, body, 0.08, 0.67)
        _face(draw, w, h, body, 0.64, 0.92, rear_lamp)
    if view.endswith("right") or view == "right":
        image = ImageOps.mirror(image)
    return image


def make_photos(folder, count=20, size=(192, 144)):
    """Write `count` jpgs cycling through the views into `folder`; return {file name: view}.

    Names look like The Car Connection's and do not give the view away.
    """
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for i in range(count):
        view = VIEWS[i % len(VIEWS)]
        name = f"Make_Model_{2010 + i % 9}_{20000 + 1000 * i}_17_300_3.0_V6_4_2_Sedan_{i:03d}.jpg"
        car_photo(view, seed=i, size=size).save(folder / name, quality=90)
        truth[name] = view
    return truth
