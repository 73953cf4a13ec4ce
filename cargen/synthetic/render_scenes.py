"""Backgrounds like those of press and dealer photos, photo finishing, and `other` scenes.

Backgrounds are painted small with numpy and Pillow, then enlarged (which also blurs them the
way a shallow depth of field would): studio sweeps (white, grey or dark), outdoor scenes (sky,
a band of trees or buildings on the horizon, asphalt, concrete or grass) and showrooms. The
horizon follows the camera that photographs the car. Each returns the environment colours
(sky, ground) the car's paint should reflect. `finish_photo` adds the camera's part: colour
balance, contrast, softness and sensor noise.
"""

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter

BACKGROUND_KINDS = ("studio", "outdoor", "showroom")
BACKGROUND_WEIGHTS = (0.3, 0.55, 0.15)
_NOISE_TILE = {}

# Paint colours seen on real cars, with how common each is (white, black and greys lead).
PAINTS = [
    ((236, 236, 234), 0.19), ((245, 244, 240), 0.04), ((22, 22, 24), 0.15),
    ((168, 171, 176), 0.12), ((110, 113, 118), 0.09), ((60, 62, 66), 0.05),
    ((160, 20, 24), 0.09), ((110, 12, 20), 0.03), ((20, 50, 130), 0.06), ((40, 90, 170), 0.04),
    ((18, 30, 60), 0.03), ((30, 75, 45), 0.02), ((150, 130, 100), 0.03), ((90, 60, 40), 0.02),
    ((215, 100, 20), 0.02), ((225, 190, 30), 0.01), ((120, 170, 200), 0.01),
]


def sample_paint(rng):
    """A car paint colour (RGB floats 0..255), as common as on real cars, slightly varied."""
    colors, weights = zip(*PAINTS)
    choice = colors[rng.choice(len(colors), p=np.array(weights) / sum(weights))]
    return np.clip(np.array(choice, float) + rng.normal(0, 8, 3), 0, 255)


def sample_background_kind(rng):
    """One of BACKGROUND_KINDS, drawn with BACKGROUND_WEIGHTS."""
    return BACKGROUND_KINDS[rng.choice(len(BACKGROUND_KINDS), p=BACKGROUND_WEIGHTS)]


def _rgb(values):
    return np.asarray(values, np.float32)


def _vary(rng, rgb, amount):
    return np.clip(_rgb(rgb) + rng.normal(0, amount, 3), 0, 255)


def value_noise(rng, width, height, cells):
    """Smooth random noise in about [-1, 1], shape (height, width): a grid of `cells` random
    values across the width, enlarged with bicubic interpolation."""
    grid_w = max(int(cells), 2)
    grid_h = max(int(round(cells * height / width)), 2)
    grid = Image.fromarray(rng.uniform(-1, 1, (grid_h, grid_w)).astype(np.float32), mode="F")
    return np.asarray(grid.resize((width, height), Image.BICUBIC))


def paint_reflections(rng, photo, mask, box, environment):
    """Lay the environment's reflection over the car's shiny parts of `photo` (PIL RGB).

    `mask` ('L', same size) says how shiny each pixel is; `box` (x0, y0, x1, y1) is the car's
    extent in pixels. Real paint mirrors the world: a horizon line runs along the body, sky
    above it and ground below, broken up by trees, buildings and clouds. The reflected world
    is worked out at a quarter of the size and blended in by the mask. Returns a PIL image.
    """
    width, height = photo.size
    small_w, small_h = max(width // 4, 4), max(height // 4, 4)
    x0, y0, x1, y1 = (v * small_w / width for v in box)
    sky, ground = (np.asarray(c, np.float32) * 255 for c in environment)
    ys = np.arange(small_h, dtype=np.float32)[:, None]
    xs = np.arange(small_w, dtype=np.float32)[None, :]
    horizon = y0 + (y1 - y0) * rng.uniform(0.3, 0.75) + rng.normal(0, 0.08) * (xs - (x0 + x1) / 2)
    softness = max(0.35, rng.uniform(0.12, 1.0) * small_h / 60)
    above = 1.0 / (1.0 + np.exp(np.clip((ys - horizon) / softness, -30, 30)))
    span = max(x1 - x0, 4)
    blotches = value_noise(rng, small_w, small_h, rng.uniform(4, 12) * small_w / span)
    above = np.clip(above + blotches * rng.uniform(0.1, 0.45), 0, 1)[..., None]
    world = np.clip(sky * above + ground * (1 - above), 0, 255).astype(np.uint8)
    world = Image.fromarray(world).resize((width, height), Image.BILINEAR)
    shine = rng.uniform(0.1, 0.32)
    return Image.composite(world, photo, mask.point([int(v * shine) for v in range(256)]))


def _grey(rng, low, high, tint):
    """A grey between `low` and `high` with a slight random tint."""
    return np.clip(rng.uniform(low, high) + rng.normal(0, tint, 3), 0, 255).astype(np.float32)


def _below_horizon(shape, horizon, scale):
    """Signed distance in pixels (positive below) of each pixel from the horizon line."""
    height, width = shape
    x0, y0, x1, y1 = np.asarray(horizon, float) * scale
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    dx, dy = x1 - x0, y1 - y0
    norm = np.hypot(dx, dy) or 1.0
    return ((xs - x0) * dy - (ys - y0) * dx) / -norm


def background(rng, kind, size, horizon):
    """A small background painting for a photo of `size` (w, h) whose camera sees the horizon
    through `horizon` = (x0, y0, x1, y1) in that photo's pixels.

    Returns (PIL image of half the photo's size, environment); the caller enlarges it (which
    also softens it). The environment is the (sky, ground) RGB colours in 0..1 the car's
    paint should reflect.
    """
    width, height = size
    small = (max(width // 2, 8), max(height // 2, 6))
    paint = {"studio": _studio, "showroom": _showroom}.get(kind, _outdoor)
    image, sky, ground = paint(rng, small, horizon, 0.5)
    picture = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    return picture, (sky / 255.0, ground / 255.0)


def _studio(rng, size, horizon, scale):
    width, height = size
    tone = rng.choice(4, p=[0.45, 0.3, 0.15, 0.1])
    wall = [_grey(rng, 232, 252, 3), _grey(rng, 190, 225, 4), _grey(rng, 120, 165, 5),
            _grey(rng, 35, 75, 4)][tone]
    floor = wall * rng.uniform(0.8, 1.0)
    distance = _below_horizon((height, width), horizon, scale)
    softness = rng.uniform(0.1, 0.5) * height
    share = np.clip(0.5 + distance / (2 * softness), 0, 1)[..., None]
    ys = np.linspace(-1, 1, height)[:, None, None]
    xs = np.linspace(-1, 1, width)[None, :, None]
    vignette = 1.0 - rng.uniform(0.0, 0.25) * (xs ** 2 + ys ** 2) / 2
    wall_grad = wall * (1.0 + rng.uniform(-0.08, 0.08) * ys)
    image = (wall_grad * (1 - share) + floor * share) * vignette
    return image, np.maximum(wall, 90), floor * 0.8


def _outdoor(rng, size, horizon, scale):
    width, height = size
    distance = _below_horizon((height, width), horizon, scale)
    weather = rng.choice(3, p=[0.55, 0.35, 0.1])
    if weather == 0:
        zenith, low = _vary(rng, (70, 120, 190), 15), _vary(rng, (185, 208, 230), 10)
    elif weather == 1:
        zenith, low = _vary(rng, (175, 180, 188), 12), _vary(rng, (215, 218, 222), 8)
    else:
        zenith, low = _vary(rng, (90, 110, 160), 15), _vary(rng, (235, 190, 150), 15)
    up = np.clip(-distance / (height * 0.8), 0, 1)[..., None]
    sky = low * (1 - up) + zenith * up
    ground_kind = rng.choice(4, p=[0.5, 0.25, 0.15, 0.1])
    base = [(88, 88, 92), (165, 162, 156), (80, 115, 55), (160, 145, 118)][ground_kind]
    ground_rgb = _vary(rng, np.array(base) * rng.uniform(0.75, 1.2), 4)
    near = np.clip(distance / (height * 0.7), 0, 1)[..., None]
    ground = ground_rgb * (0.85 + 0.25 * near)
    image = np.where(distance[..., None] > 0, ground, sky)
    layer = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = np.asarray(horizon, float) * scale

    def horizon_y(x):
        return y0 + (y1 - y0) * (x - x0) / ((x1 - x0) or 1.0)

    band = rng.choice(4, p=[0.35, 0.3, 0.2, 0.15])
    if band == 0:  # trees
        for _ in range(int(rng.integers(6, 20))):
            x = rng.uniform(-0.1, 1.1) * width
            radius = rng.uniform(0.04, 0.14) * height
            base = horizon_y(x)
            color = tuple(int(v) for v in _vary(rng, (55, 80, 45), 15))
            draw.ellipse([x - radius, base - radius * rng.uniform(1.2, 2.6), x + radius, base + 1],
                         fill=color)
    elif band == 1:  # buildings
        for _ in range(int(rng.integers(3, 10))):
            x = rng.uniform(-0.1, 1.0) * width
            w = rng.uniform(0.08, 0.3) * width
            h = rng.uniform(0.05, 0.35) * height
            base = horizon_y(x + w / 2)
            color = tuple(int(v) for v in _grey(rng, 90, 210, 6))
            draw.rectangle([x, base - h, x + w, base + 1], fill=color)
            window = tuple(int(v * 0.6) for v in color)
            for row in range(int(h // 4)):
                yy = base - h + 2 + row * 4
                draw.line([x + 1, yy, x + w - 1, yy], fill=window)
    elif band == 2:  # hills
        points = [(x, horizon_y(x) - abs(rng.normal(0, 0.08)) * height)
                  for x in np.linspace(-5, width + 5, 6)]
        color = tuple(int(v) for v in _vary(rng, (95, 110, 95), 15))
        draw.polygon(points + [(width + 5, height + 5), (-5, height + 5)], fill=color)
        layer = Image.fromarray(np.where(distance[..., None] > 0, ground,
                                         np.asarray(layer, np.float32)).astype(np.uint8))
        draw = ImageDraw.Draw(layer)
    _clutter(rng, draw, width, height, horizon_y, rng.uniform(0.0, 1.0))
    if ground_kind < 2 and rng.random() < 0.4:  # painted lines on the ground
        for _ in range(int(rng.integers(1, 4))):
            xa = rng.uniform(0, width)
            ya = horizon_y(xa) + rng.uniform(0.05, 0.6) * height
            xb = xa + rng.normal(0, 0.5) * width
            draw.line([xa, ya, xb, height + 5], fill=(215, 215, 205),
                      width=max(1, int(height / 80)))
    image = np.asarray(layer.filter(ImageFilter.BoxBlur(rng.uniform(0.3, 1.2))), np.float32)
    grain = value_noise(rng, width, height, rng.uniform(25, 60))[..., None]
    clouds = value_noise(rng, width, height, rng.uniform(2, 6))[..., None]
    below = (distance > 0)[..., None]
    image += np.where(below, grain * rng.uniform(2, 8), clouds * rng.uniform(0, 25))
    sky_mean = low * 0.6 + zenith * 0.4
    return image, sky_mean, ground_rgb


def _clutter(rng, draw, width, height, horizon_y, amount):
    """What stands around a parked car: other cars, people, poles, signs, near the horizon."""
    for _ in range(int(rng.poisson(6 * amount))):
        x = rng.uniform(-0.05, 1.05) * width
        base = horizon_y(x) + rng.uniform(-0.01, 0.12) * height
        kind = rng.choice(4, p=[0.45, 0.25, 0.15, 0.15])
        if kind == 0:  # another car, side on, with dark wheels
            w = rng.uniform(0.12, 0.4) * width
            h = w * rng.uniform(0.28, 0.4)
            color = tuple(int(v) for v in sample_paint(rng))
            draw.rounded_rectangle([x - w / 2, base - h * 0.6, x + w / 2, base - h * 0.1],
                                   radius=h * 0.2, fill=color)
            draw.rounded_rectangle([x - w * 0.3, base - h, x + w * 0.25, base - h * 0.5],
                                   radius=h * 0.2, fill=tuple(int(v * 0.5) for v in color))
            for k in (-0.3, 0.3):
                r = h * 0.17
                draw.ellipse([x + k * w - r, base - 2 * r, x + k * w + r, base], fill=(25, 25, 25))
        elif kind == 1:  # a person
            h = rng.uniform(0.08, 0.3) * height
            color = tuple(int(v) for v in _vary(rng, (90, 90, 100), 50))
            draw.rounded_rectangle([x - h * 0.13, base - h * 0.85, x + h * 0.13, base],
                                   radius=h * 0.08, fill=color)
            draw.ellipse([x - h * 0.08, base - h, x + h * 0.08, base - h * 0.83],
                         fill=(200, 160, 130))
        elif kind == 2:  # a pole or a lamp post
            h = rng.uniform(0.2, 0.7) * height
            draw.line([x, base, x, base - h], fill=(60, 62, 66), width=max(1, int(width / 160)))
        else:  # a sign or a banner
            w, h = rng.uniform(0.05, 0.2) * width, rng.uniform(0.03, 0.1) * height
            top = base - rng.uniform(0.1, 0.4) * height
            color = tuple(int(v) for v in _vary(rng, (200, 60, 40), 80))
            draw.rectangle([x, top, x + w, top + h], fill=color)


def _showroom(rng, size, horizon, scale):
    width, height = size
    distance = _below_horizon((height, width), horizon, scale)
    wall = _grey(rng, 200, 240, 4)
    floor = _grey(rng, 150, 215, 4)
    near = np.clip(distance / (height * 0.6), 0, 1)[..., None]
    image = np.where(distance[..., None] > 0, floor * (0.9 + 0.2 * near), wall)
    layer = Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(layer)
    x0, y0, x1, y1 = np.asarray(horizon, float) * scale
    for _ in range(int(rng.integers(2, 6))):  # windows or panels in the back wall
        x = rng.uniform(-0.1, 1.0) * width
        w = rng.uniform(0.1, 0.3) * width
        base = y0 + (y1 - y0) * (x - x0) / ((x1 - x0) or 1.0)
        h = rng.uniform(0.2, 0.6) * height
        shade = tuple(int(v) for v in _vary(rng, (240, 243, 248), 5))
        if rng.random() < 0.4:
            shade = tuple(int(v) for v in _vary(rng, (120, 125, 135), 20))
        draw.rectangle([x, base - h, x + w, base - 1], fill=shade)
    _clutter(rng, draw, width, height,
             lambda x: y0 + (y1 - y0) * (x - x0) / ((x1 - x0) or 1.0), rng.uniform(0.0, 0.8))
    glow = tuple(int(v) for v in np.minimum(floor * 1.15, 255))
    for _ in range(int(rng.integers(0, 5))):  # reflections of ceiling lights on the floor
        x = rng.uniform(0, width)
        y = rng.uniform(0.7, 1.0) * height
        r = rng.uniform(0.02, 0.05) * width
        draw.ellipse([x - r * 2, y - r * 0.3, x + r * 2, y + r * 0.3], fill=glow)
    image = np.asarray(layer.filter(ImageFilter.BoxBlur(rng.uniform(0.8, 2.0))), np.float32)
    return image, wall, floor * 0.8


def _noise_tiles():
    """Grey noise images (mean 128) at a few strengths, made once per process."""
    if "tiles" not in _NOISE_TILE:
        normal = np.random.default_rng(20240501).standard_normal((512, 512, 3))
        _NOISE_TILE["tiles"] = [Image.fromarray(np.clip(128 + normal * sigma, 0, 255)
                                                .astype(np.uint8)) for sigma in NOISE_SIGMAS]
    return _NOISE_TILE["tiles"]


NOISE_SIGMAS = (0.0, 1.5, 3.0, 4.5, 6.0)


def finish_photo(rng, photo):
    """Camera finish for a PIL RGB image: white balance, contrast, saturation, softness and
    sensor noise. Returns a uint8 array."""
    if rng.random() < 0.3:
        photo = photo.filter(ImageFilter.BoxBlur(rng.uniform(0.4, 0.9)))
    gains = rng.uniform(0.97, 1.03, 3) * rng.uniform(0.9, 1.12)
    contrast = rng.uniform(0.9, 1.2)
    saturation = rng.uniform(0.8, 1.15)
    mean = 120.0
    # One affine colour matrix: saturation about the grey value, contrast about `mean`, gains.
    mix = np.full((3, 3), (1 - saturation) / 3) + np.eye(3) * saturation
    matrix = np.diag(gains) @ (contrast * mix)
    offset = gains * (1 - contrast) * mean
    photo = photo.convert("RGB", tuple(np.concatenate([matrix, offset[:, None]], 1).ravel()))
    level = int(rng.integers(len(NOISE_SIGMAS)))
    width, height = photo.size
    tile = _noise_tiles()[level]
    if level and width <= tile.width and height <= tile.height:
        ox = int(rng.integers(0, tile.width - width + 1))
        oy = int(rng.integers(0, tile.height - height + 1))
        noise = tile.crop((ox, oy, ox + width, oy + height))
        photo = ImageChops.add(photo, noise, 1.0, -128)
    return np.asarray(photo)


# --------------------------------------------------------------------------- `other` scenes

INTERIOR_COLORS = [((28, 28, 30), 0.45), ((70, 70, 74), 0.2), ((190, 170, 140), 0.15),
                   ((120, 80, 55), 0.1), ((150, 40, 35), 0.05), ((225, 220, 210), 0.05)]
OTHER_SCENES = ("dashboard", "seats", "engine", "badge", "cargo", "landscape", "building")


def _pick(rng, weighted):
    colors, weights = zip(*weighted)
    return np.array(colors[rng.choice(len(colors), p=np.array(weights) / sum(weights))], float)


def _color(rgb, factor=1.0):
    return tuple(int(v) for v in np.clip(np.asarray(rgb, float) * factor, 0, 255))


def _window_view(rng, size):
    """What is seen through a car window: a blurred outdoor scene, as a PIL image of `size`."""
    width, height = size
    y = height * rng.uniform(0.3, 0.8)
    painting, _, _ = _outdoor(rng, (max(width // 4, 8), max(height // 4, 6)),
                              (0, y, width, y + rng.normal(0, 0.05) * height), 0.25)
    image = Image.fromarray(np.clip(painting, 0, 255).astype(np.uint8)).resize(size)
    return image.filter(ImageFilter.BoxBlur(2))


def _dashboard(rng, draw, canvas, w, h):
    trim = _pick(rng, INTERIOR_COLORS)
    dark = _color(trim * 0.35 + 10)
    canvas.paste(_window_view(rng, (w, h)), (0, 0))
    top = h * rng.uniform(0.3, 0.5)
    bulge = h * rng.uniform(0.0, 0.1)
    dash = [(0, top + bulge), (w * 0.3, top), (w * 0.7, top + rng.normal(0, 0.03) * h),
            (w, top + bulge), (w, h), (0, h)]
    draw.polygon(dash, fill=_color(trim, 0.9))
    draw.rectangle([0, top + h * 0.12, w, top + h * 0.14], fill=_color(trim, 0.7))
    for x in (rng.uniform(-0.05, 0.05) * w, w - rng.uniform(-0.05, 0.05) * w):  # A-pillars
        lean = rng.uniform(0.15, 0.3) * w * (1 if x < w / 2 else -1)
        draw.polygon([(x - w * 0.06, 0), (x + w * 0.06, 0), (x + w * 0.06 + lean, top + bulge),
                      (x - w * 0.06 + lean, top + bulge)], fill=dark)
    wheel_x = w * (rng.uniform(0.25, 0.42) if rng.random() < 0.7 else rng.uniform(0.58, 0.75))
    wheel_y = h * rng.uniform(0.62, 0.85)
    radius = h * rng.uniform(0.28, 0.42)
    cluster = [wheel_x - radius * 0.8, top + h * 0.02, wheel_x + radius * 0.8, top + radius * 0.7]
    draw.rounded_rectangle(cluster, radius=radius * 0.2, fill=(12, 12, 14))
    for k in (-1, 1):  # two gauges
        gx, gy, gr = wheel_x + k * radius * 0.38, top + radius * 0.38, radius * 0.26
        draw.ellipse([gx - gr, gy - gr, gx + gr, gy + gr], fill=(20, 22, 26),
                     outline=(200, 200, 205), width=max(1, int(gr * 0.08)))
        angle = np.radians(rng.uniform(120, 300))
        draw.line([gx, gy, gx + gr * 0.8 * np.cos(angle), gy + gr * 0.8 * np.sin(angle)],
                  fill=(230, 80, 40), width=max(1, int(gr * 0.08)))
    screen_x = w - wheel_x + rng.normal(0, 0.05) * w
    screen = [screen_x - w * 0.1, top + h * 0.05, screen_x + w * 0.1, top + h * 0.2]
    draw.rounded_rectangle(screen, radius=4, fill=(15, 18, 24))
    glow = _color(_vary(rng, (60, 120, 190), 40))
    draw.rectangle([screen[0] + 6, screen[1] + 6, screen[2] - 6, screen[3] - 6], fill=glow)
    for k in range(2):
        vent_y = top + h * (0.24 + 0.09 * k)
        draw.rounded_rectangle([screen_x - w * 0.08, vent_y, screen_x + w * 0.08, vent_y + h * 0.05],
                               radius=5, fill=(18, 18, 20))
    thickness = max(2, int(radius * rng.uniform(0.12, 0.18)))
    box = [wheel_x - radius, wheel_y - radius * 0.9, wheel_x + radius, wheel_y + radius * 0.9]
    rim = (20, 20, 22) if rng.random() < 0.8 else _color(trim, 0.8)
    for angle in (200, 270, 340):  # spokes
        a = np.radians(angle)
        draw.line([wheel_x, wheel_y, wheel_x + radius * np.cos(a), wheel_y - radius * 0.9 * np.sin(a)],
                  fill=(30, 30, 33), width=int(thickness * 1.3))
    draw.ellipse(box, outline=rim, width=thickness)
    hub = radius * 0.28
    draw.rounded_rectangle([wheel_x - hub, wheel_y - hub * 0.8, wheel_x + hub, wheel_y + hub * 0.8],
                           radius=hub * 0.4, fill=(32, 32, 35))
    draw.ellipse([wheel_x - hub * 0.35, wheel_y - hub * 0.22, wheel_x + hub * 0.35,
                  wheel_y + hub * 0.22], fill=(185, 187, 192))


def _seats(rng, draw, canvas, w, h):
    trim = _pick(rng, INTERIOR_COLORS)
    canvas.paste(_window_view(rng, (w, h)), (0, 0))
    draw.rectangle([0, h * rng.uniform(0.35, 0.55), w, h], fill=_color(trim * 0.4 + 8))
    count = int(rng.integers(1, 3))
    for k in range(count):
        cx = w * (0.5 if count == 1 else 0.3 + 0.4 * k) + rng.normal(0, 0.04) * w
        width = w * rng.uniform(0.25, 0.38) / count ** 0.3
        top = h * rng.uniform(0.12, 0.28)
        back = [cx - width / 2, top, cx + width / 2, h * rng.uniform(0.75, 0.9)]
        draw.rounded_rectangle(back, radius=width * 0.25, fill=_color(trim))
        inner = [back[0] + width * 0.2, back[1] + h * 0.08, back[2] - width * 0.2, back[3] - h * 0.05]
        draw.rounded_rectangle(inner, radius=width * 0.15, fill=_color(trim, 0.85))
        for line in range(int(rng.integers(2, 6))):
            y = inner[1] + (inner[3] - inner[1]) * (line + 1) / 6
            draw.line([inner[0], y, inner[2], y], fill=_color(trim, 0.7), width=2)
        head_w = width * 0.5
        draw.rounded_rectangle([cx - head_w / 2, top - h * 0.14, cx + head_w / 2, top + h * 0.02],
                               radius=head_w * 0.3, fill=_color(trim, 0.95))
        draw.rounded_rectangle([cx - width * 0.6, back[3] - h * 0.06, cx + width * 0.6, h * 1.02],
                               radius=width * 0.2, fill=_color(trim, 1.05))
    draw.polygon([(0, h * 0.85), (w, h * 0.9), (w, h), (0, h)], fill=_color(trim * 0.3 + 5))


def _engine(rng, draw, canvas, w, h):
    base = _grey(rng, 25, 60, 3)
    draw.rectangle([0, 0, w, h], fill=_color(base))
    paint = sample_paint(rng)
    draw.polygon([(0, 0), (w, 0), (w * 0.9, h * rng.uniform(0.1, 0.25)),
                  (w * 0.1, h * rng.uniform(0.1, 0.25))], fill=_color(paint, 0.6))
    cover = [w * rng.uniform(0.2, 0.35), h * rng.uniform(0.3, 0.4), w * rng.uniform(0.6, 0.8),
             h * rng.uniform(0.65, 0.85)]
    draw.rounded_rectangle(cover, radius=w * 0.05,
                           fill=_color(_grey(rng, 20, 180, 4)))
    draw.rectangle([cover[0] + w * 0.08, (cover[1] + cover[3]) / 2 - h * 0.02,
                    cover[2] - w * 0.08, (cover[1] + cover[3]) / 2 + h * 0.02],
                   fill=(200, 200, 205))
    for _ in range(int(rng.integers(3, 8))):
        x, y = rng.uniform(0.05, 0.95) * w, rng.uniform(0.3, 0.95) * h
        r = rng.uniform(0.03, 0.07) * w
        cap = [(220, 190, 40), (40, 90, 180), (25, 25, 25), (200, 200, 200)][rng.integers(4)]
        draw.ellipse([x - r, y - r * 0.8, x + r, y + r * 0.8], fill=cap)
    for _ in range(int(rng.integers(2, 6))):
        points = [(rng.uniform(0, w), rng.uniform(0.3, 1) * h) for _ in range(3)]
        draw.line(points, fill=(15, 15, 15), width=int(w * rng.uniform(0.015, 0.03)))
    box = [rng.uniform(0.0, 0.1) * w, rng.uniform(0.5, 0.7) * h, rng.uniform(0.2, 0.3) * w, h * 0.95]
    draw.rectangle(box, fill=(20, 20, 22))


def _badge(rng, draw, canvas, w, h):
    paint = sample_paint(rng)
    ys = np.linspace(0, 1, h)[:, None, None]
    gradient = paint * (0.7 + 0.6 * np.abs(ys - rng.uniform(0.2, 0.8)))
    panel = np.broadcast_to(gradient, (h, w, 3))
    canvas.paste(Image.fromarray(np.clip(panel, 0, 255).astype(np.uint8)), (0, 0))
    cx, cy = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65)
    rx, ry = w * rng.uniform(0.12, 0.3), h * rng.uniform(0.12, 0.3)
    chrome, dark = (215, 217, 222), (40, 42, 48)
    shape = rng.integers(3)
    if shape == 0:
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=chrome)
        draw.ellipse([cx - rx * 0.8, cy - ry * 0.8, cx + rx * 0.8, cy + ry * 0.8], fill=dark)
    elif shape == 1:
        draw.polygon([(cx - rx, cy - ry), (cx + rx, cy - ry), (cx + rx * 0.8, cy + ry * 0.3),
                      (cx, cy + ry), (cx - rx * 0.8, cy + ry * 0.3)], fill=chrome)
    for k in range(int(rng.integers(2, 6))):  # letters
        lx = cx - rx * 0.6 + k * rx * 0.3
        draw.rectangle([lx, cy - ry * 0.25, lx + rx * 0.18, cy + ry * 0.25],
                       fill=chrome if shape == 0 else dark)


def _cargo(rng, draw, canvas, w, h):
    paint = sample_paint(rng)
    draw.rectangle([0, 0, w, h], fill=_color(paint))
    carpet = _grey(rng, 25, 70, 3)
    margin = w * rng.uniform(0.08, 0.18)
    floor_top = h * rng.uniform(0.3, 0.5)
    draw.polygon([(margin, floor_top), (w - margin, floor_top), (w - margin * 0.3, h * 0.9),
                  (margin * 0.3, h * 0.9)], fill=_color(carpet))
    draw.rectangle([margin, h * 0.05, w - margin, floor_top], fill=_color(carpet, 0.7))
    draw.rectangle([0, h * 0.9, w, h], fill=_color(paint, 0.6))
    for k in range(2):  # rear-seat backs
        x0 = margin + k * (w - 2 * margin) / 2
        draw.rounded_rectangle([x0 + 4, h * 0.08, x0 + (w - 2 * margin) / 2 - 4, floor_top],
                               radius=10, fill=_color(carpet, 0.85))


def _landscape(rng, draw, canvas, w, h):
    y = h * rng.uniform(0.3, 0.7)
    painting, _, _ = _outdoor(rng, (max(w // 4, 8), max(h // 4, 6)),
                              (0, y, w, y + rng.normal(0, 0.05) * h), 0.25)
    canvas.paste(Image.fromarray(np.clip(painting, 0, 255).astype(np.uint8)).resize((w, h)), (0, 0))


def _building(rng, draw, canvas, w, h):
    sky = _vary(rng, (150, 185, 225), 20)
    draw.rectangle([0, 0, w, h], fill=_color(sky))
    wall = _grey(rng, 100, 220, 8)
    top = h * rng.uniform(0.0, 0.3)
    draw.rectangle([0, top, w, h], fill=_color(wall))
    rows, cols = int(rng.integers(2, 6)), int(rng.integers(3, 9))
    glass = _grey(rng, 40, 120, 10)
    for r in range(rows):
        for c in range(cols):
            x0 = w * (c + 0.2) / cols
            y0 = top + (h - top) * (r + 0.2) / rows
            draw.rectangle([x0, y0, x0 + w * 0.6 / cols, y0 + (h - top) * 0.5 / rows],
                           fill=_color(glass))


_OTHER_PAINTERS = {"dashboard": _dashboard, "seats": _seats, "engine": _engine,
                   "badge": _badge, "cargo": _cargo, "landscape": _landscape,
                   "building": _building}


def render_other_scene(rng, scene, width=320, height=240):
    """A photo (uint8 array) of a non-exterior `scene`, one of OTHER_SCENES."""
    w, h = width * 2, height * 2
    canvas = Image.new("RGB", (w, h), (0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    _OTHER_PAINTERS[scene](rng, draw, canvas, w, h)
    if rng.random() < 0.5:
        canvas = canvas.transpose(Image.FLIP_LEFT_RIGHT)
    return finish_photo(rng, canvas.reduce(2))
