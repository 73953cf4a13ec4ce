"""Made-up out-of-distribution pictures and the share a classifier would sort into a car view.

The pictures are drawn here (never downloaded): noise textures, plain colours, gradients,
stripes and checkerboards, circles, simple drawn houses and faces. A picture is mis-sorted when
the model puts it into a car view (not `other`) with confidence >= the threshold.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def made_up_images(folder, count, seed=0, size=(320, 240)):
    """Write `count` out-of-distribution JPGs into `folder`: textures, colours, drawings."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width, height = size
    kinds = ("noise", "smooth_noise", "plain", "gradient", "stripes", "checker", "house", "face",
             "circles")
    paths = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if kind == "noise":
            image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
        elif kind == "smooth_noise":
            cells = rng.integers(0, 256, (int(rng.integers(3, 12)), int(rng.integers(3, 12)), 3),
                                 dtype=np.uint8)
            image = Image.fromarray(cells).resize(size, Image.BICUBIC)
        elif kind == "plain":
            image = Image.new("RGB", size, colour)
        elif kind == "gradient":
            other = rng.integers(0, 256, 3)
            ramp = np.linspace(0, 1, width if rng.random() < 0.5 else height)
            ramp = ramp[None, :, None] if len(ramp) == width else ramp[:, None, None]
            pixels = np.array(colour) * (1 - ramp) + other * ramp
            image = Image.fromarray(np.broadcast_to(pixels, (height, width, 3)).astype(np.uint8))
        elif kind in ("stripes", "checker"):
            step = int(rng.integers(6, 40))
            y, x = np.mgrid[0:height, 0:width]
            mask = (x // step) % 2 if kind == "stripes" else ((x // step) + (y // step)) % 2
            if kind == "stripes" and rng.random() < 0.5:
                mask = (y // step) % 2
            other = rng.integers(0, 256, 3)
            pixels = np.where(mask[..., None] == 1, np.array(colour), other)
            image = Image.fromarray(pixels.astype(np.uint8))
        else:
            sky = tuple(int(c) for c in rng.integers(120, 256, 3))
            image = Image.new("RGB", size, sky)
            draw = ImageDraw.Draw(image)
            if kind == "house":
                ground = tuple(int(c) for c in rng.integers(0, 160, 3))
                draw.rectangle((0, height * 0.75, width, height), fill=ground)
                left, top = width * rng.uniform(0.15, 0.35), height * rng.uniform(0.35, 0.5)
                right = width * rng.uniform(0.6, 0.85)
                draw.rectangle((left, top, right, height * 0.8), fill=colour)
                roof = tuple(int(c) for c in rng.integers(0, 200, 3))
                draw.polygon([(left - 15, top), ((left + right) / 2, top - 60), (right + 15, top)],
                             fill=roof)
                door = (left + right) / 2
                draw.rectangle((door - 12, height * 0.6, door + 12, height * 0.8), fill=(60, 40, 20))
                for wx in (left + 20, right - 50):
                    draw.rectangle((wx, top + 20, wx + 30, top + 50), fill=(200, 230, 255))
            elif kind == "face":
                skin = tuple(int(c) for c in rng.integers([150, 100, 70], [255, 210, 180]))
                cx, cy = width / 2 + rng.uniform(-40, 40), height / 2 + rng.uniform(-20, 20)
                r = rng.uniform(60, 100)
                draw.ellipse((cx - r * 0.8, cy - r, cx + r * 0.8, cy + r), fill=skin)
                for ex in (-0.3, 0.3):
                    draw.ellipse((cx + ex * r - 8, cy - 0.25 * r - 6, cx + ex * r + 8,
                                  cy - 0.25 * r + 6), fill=(40, 30, 30))
                draw.line((cx, cy - 0.1 * r, cx, cy + 0.2 * r), fill=(120, 80, 60), width=3)
                draw.arc((cx - 0.35 * r, cy + 0.2 * r, cx + 0.35 * r, cy + 0.55 * r), 10, 170,
                         fill=(150, 40, 40), width=4)
            else:
                for _ in range(int(rng.integers(3, 12))):
                    x, y, r = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(10, 80)
                    fill = tuple(int(c) for c in rng.integers(0, 256, 3))
                    draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
            if rng.random() < 0.5:
                image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 2.0)))
        path = folder / f"ood_{i:04d}_{kind}.jpg"
        image.save(path, quality=90)
        paths.append(path)
    return paths


def out_of_distribution_rate(classifier, paths, threshold):
    """Share of `paths` sorted into a car view (not `other`) with confidence >= threshold."""
    from classifier.evaluation import predict_files
    probabilities, _, _ = predict_files(classifier, paths)
    confident = probabilities.max(axis=1) >= threshold
    names = np.array(classifier.classes)[probabilities.argmax(axis=1)]
    return float((confident & (names != "other")).mean())
