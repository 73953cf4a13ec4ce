"""Photographs of procedural cars: camera, light, shadow, background and finish.

`render_car_photo` builds a random car (`cargen.synthetic.render_car`), places a camera at a view's
azimuth +-20 degrees (`cargen.views.VIEW_AZIMUTH_DEGREES`: 0 looks at the car's left side, its
front toward the image left; 90 at its front), 0-25 degrees up with a small roll, frames the
car like a press photo (slightly off-centre), lays a soft shadow on a background from
`cargen.synthetic.render_scenes`, draws the faces on a 2x canvas and halves it (antialiasing), adds the
paint's reflections and a camera finish. With `close_up` the camera frames a wheel, a head
lamp or the badge instead: `other` pictures.
"""

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cargen.synthetic.render_car import STYLES, build_car, sample_look, sample_shape
from cargen.synthetic.render_mesh import (
    Camera,
    Lighting,
    Scene,
    arc,
    draw_scene,
    fit_camera,
    look_at,
    orbit_eye,
    rounded_rectangle,
)
from cargen.synthetic.render_scenes import (
    background,
    finish_photo,
    paint_reflections,
    sample_background_kind,
)
from cargen.views import VIEW_AZIMUTH_DEGREES

SUPERSAMPLE = 2


def sample_camera(rng, view, shape):
    """Azimuth, elevation (degrees), distance (m), roll (degrees) and look-at target.

    The distance is the photographer's, from the near side of the car (a few metres), plus
    the car's extent towards the camera, so the perspective is alike from every view.
    """
    azimuth = VIEW_AZIMUTH_DEGREES[view] + rng.uniform(-20, 20)
    elevation = min(rng.gamma(2.0, 3.0), 25.0)
    a = np.radians(azimuth)
    extent = abs(np.sin(a)) * shape.length / 2 + abs(np.cos(a)) * shape.width / 2
    distance = extent + rng.uniform(3.5, 9.0)
    roll = float(np.clip(rng.normal(0, 1.5), -5, 5))
    target = (rng.normal(0, 0.15), rng.normal(0, 0.1), shape.height * rng.uniform(0.3, 0.5))
    return azimuth, elevation, distance, roll, target


def _shadow(size, camera, shape, lighting, parts, rng, scale):
    """A soft ground shadow under the car: an 'L' mask of `size`, `scale` mask pixels per
    photo pixel."""
    mask = Image.new("L", size, 0)
    draw = ImageDraw.Draw(mask)
    s = shape
    outline = rounded_rectangle(s.rear + 0.05, -s.width / 2 + 0.02, s.front - 0.05,
                                s.width / 2 - 0.02, 0.35, 4)
    ground = np.stack([outline[:, 0], outline[:, 1], np.zeros(len(outline))], 1)
    light = lighting.direction
    if light[2] < 0.95:
        cast = ground.copy()
        cast[:, :2] -= light[:2] / max(light[2], 0.35) * s.height * 0.6
        ground = np.concatenate([ground, cast])
    pixels, _ = camera.project(ground)
    hull = _convex_hull(pixels * scale)
    draw.polygon([tuple(p) for p in hull], fill=int(rng.uniform(120, 200)))
    for center in parts["wheels"]:
        patch = arc((center[0], center[1]), s.wheel_radius * 0.8, 0, 340, 12)
        patch = np.stack([patch[:, 0], patch[:, 1], np.zeros(len(patch))], 1)
        pix, _ = camera.project(patch)
        draw.polygon([tuple(p) for p in pix * scale], fill=235)
    radius = max(0.8, rng.uniform(0.01, 0.03) * size[0])
    # A box blur at half size, enlarged again: much cheaper than a Gaussian, as soft.
    small = mask.resize((max(size[0] // 2, 1), max(size[1] // 2, 1)), Image.BILINEAR)
    return small.filter(ImageFilter.BoxBlur(radius / 2)).resize(size, Image.BILINEAR)


def _convex_hull(points):
    points = sorted(set(map(tuple, np.round(points, 2))))
    if len(points) < 3:
        return np.array(points)

    def half(seq):
        out = []
        for p in seq:
            while len(out) >= 2 and ((out[-1][0] - out[-2][0]) * (p[1] - out[-2][1])
                                     - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0])) <= 0:
                out.pop()
            out.append(p)
        return out

    lower, upper = half(points), half(points[::-1])
    return np.array(lower[:-1] + upper[:-1])


def sample_lighting(rng, environment):
    """A random light from above plus the environment the background implies."""
    azimuth = rng.uniform(0, 2 * np.pi)
    elevation = rng.uniform(np.radians(25), np.radians(80))
    direction = (np.cos(azimuth) * np.cos(elevation), np.sin(azimuth) * np.cos(elevation),
                 np.sin(elevation))
    sky, ground = environment
    return Lighting(direction=direction, ambient=rng.uniform(0.55, 0.8),
                    diffuse=rng.uniform(0.5, 0.85), sky_rgb=sky, ground_rgb=ground,
                    light_rgb=np.array([1.0, rng.uniform(0.95, 1.0), rng.uniform(0.88, 1.0)]))


def render_car_photo(rng, view, width=320, height=240, style=None, dimensions=None,
                     close_up=None):
    """A photo (uint8 array, height x width x 3) of a random car seen from `view`.

    `style` picks the body style (random if None); `dimensions` (length, width, height in m)
    overrides the sampled size. `close_up` ("wheel", "lamp" or "badge") frames the camera on
    that part instead of the whole car, which makes an `other` picture.
    """
    style = style or STYLES[rng.integers(len(STYLES))]
    shape = sample_shape(rng, style, dimensions)
    look = sample_look(rng, style)
    scene = Scene()
    if close_up is None:
        azimuth, elevation, distance, roll, target = sample_camera(rng, view, shape)
        eye = orbit_eye(azimuth, elevation, distance, target)
        parts = build_car(scene, shape, look, rng, eye)
        frame_points = scene.all_points()
        fill = rng.uniform(0.85, 1.05)
    else:
        parts = build_car(scene, shape, look, rng)
        azimuth, elevation, distance, roll, target, frame_points = _close_up_camera(
            rng, close_up, shape, parts)
        eye = orbit_eye(azimuth, elevation, distance, target)
        fill = rng.uniform(0.5, 0.9)
    camera = Camera(eye=eye, rotation=look_at(eye, target, roll))
    slack_x, slack_y = max(1 - fill, 0) * width / 2, max(1 - fill, 0) * height / 2
    center = (width / 2 + rng.uniform(-1, 1) * (slack_x + width * 0.015),
              height / 2 + rng.uniform(-1, 1) * (slack_y + height * 0.015))
    fit_camera(camera, frame_points, width, height, fill, center)

    kind = sample_background_kind(rng)
    painting, environment = background(rng, kind, (width, height), camera.horizon(width))
    lighting = sample_lighting(rng, environment)
    if close_up is None or rng.random() < 0.5:
        scale = painting.width / width
        mask = _shadow(painting.size, camera, shape, lighting, parts, rng, scale)
        dark = Image.new("RGB", painting.size, (12, 12, 14))
        painting = Image.composite(dark, painting, mask)
    canvas = painting.resize((width, height), Image.BILINEAR)
    canvas = canvas.resize((width * SUPERSAMPLE, height * SUPERSAMPLE), Image.NEAREST)
    mask = Image.new("L", canvas.size, 0)
    draw_scene(canvas, scene, camera, lighting, scale=SUPERSAMPLE, mask=mask)
    pixels, _ = camera.project(frame_points)
    box = (*pixels.min(axis=0), *pixels.max(axis=0))
    photo = paint_reflections(rng, canvas.reduce(SUPERSAMPLE), mask.reduce(SUPERSAMPLE), box,
                              environment)
    return finish_photo(rng, photo)


def _close_up_camera(rng, close_up, shape, parts):
    s = shape
    side = 1 if rng.random() < 0.5 else -1
    if close_up == "wheel":
        center = parts["wheels"][int(rng.integers(4))]
        side = np.sign(center[1]) or 1
        azimuth = (0 if side > 0 else 180) + rng.uniform(-35, 35)
        reach = s.wheel_radius * rng.uniform(1.1, 1.5)
        points = center + np.array([[dx, dy, dz] for dx in (-reach, reach)
                                    for dy in (-0.15, 0.15) for dz in (-reach, reach)])
        target = center
        elevation = rng.uniform(0, 15)
    elif close_up == "lamp":
        lamp = parts["lamps"][int(rng.integers(2))]
        center = lamp.mean(axis=0)
        azimuth = (90 + 40 * np.sign(center[1])) + rng.uniform(-30, 30)
        points = center + (lamp - center) * rng.uniform(1.3, 2.2)
        target = center
        elevation = rng.uniform(0, 20)
    else:
        badge = parts["badge"]
        center = badge.mean(axis=0)
        azimuth = 90 + rng.uniform(-25, 25)
        points = center + (badge - center) * rng.uniform(1.0, 2.0)
        target = center
        elevation = rng.uniform(0, 15)
    distance = rng.uniform(3.0, 6.0)
    roll = float(rng.normal(0, 3))
    return azimuth, elevation, distance, roll, tuple(target), points
