"""A small painter's-algorithm renderer: flat 3D polygons, a pinhole camera, Pillow fills.

World coordinates are metres with z up. A `Scene` collects planar polygons, each with an albedo
colour, a material and a draw group. Groups are the unit of depth sorting: they are drawn far to
near, and inside a group polygons keep the order they were added in (so a decal such as a lamp
drawn on a panel follows the panel). Polygons facing away from the camera are culled. Colours
come from a small shading model: Lambert diffuse from one light, hemisphere ambient, and a
reflection of a sky/ground environment weighted by Fresnel, which is what makes car paint look
like car paint (bright tops, darker sides, a horizon line).
"""

from dataclasses import dataclass

import numpy as np
from PIL import ImageDraw

# Material table: columns are diffuse weight, base reflectivity, Fresnel weight, specular
# weight, specular exponent, emission (share of the albedo shown whatever the light).
PAINT, GLASS, CHROME, RUBBER, PLASTIC, LAMP, EMISSIVE, MATTE = range(8)
MATERIALS = np.array([
    [0.95, 0.05, 0.55, 0.55, 40.0, 0.00],   # PAINT
    [0.30, 0.22, 0.80, 0.90, 80.0, 0.00],   # GLASS
    [0.25, 0.62, 0.30, 0.90, 30.0, 0.00],   # CHROME
    [0.90, 0.01, 0.05, 0.05, 8.0, 0.00],    # RUBBER
    [0.85, 0.03, 0.20, 0.20, 15.0, 0.00],   # PLASTIC
    [0.45, 0.25, 0.40, 0.90, 60.0, 0.35],   # LAMP (clear head lamp or coloured tail lamp)
    [0.20, 0.00, 0.00, 0.00, 1.0, 0.85],    # EMISSIVE (plates, screens: shown nearly as is)
    [1.00, 0.00, 0.00, 0.00, 1.0, 0.00],    # MATTE
])


class Scene:
    """A list of planar 3D polygons with colours, materials and draw groups."""

    def __init__(self):
        self.points = []
        self.colors = []
        self.materials = []
        self.groups = []
        self.cull = []
        self.group_count = 0
        self.group_bias = []

    def new_group(self, depth_bias=0.0):
        """Start a draw group; `depth_bias` (metres) pushes it back (+) or forward (-)."""
        self.group_count += 1
        self.group_bias.append(depth_bias)
        return self.group_count - 1

    def add(self, points, color, material, group, cull=True):
        """Add one polygon (k >= 3 points, shape (k, 3)) to `group`."""
        if len(points) < 3:
            return
        self.points.append(points)
        self.colors.append(color)
        self.materials.append(material)
        self.groups.append(group)
        self.cull.append(cull)

    def all_points(self):
        """Every vertex of the scene, shape (n, 3)."""
        return np.concatenate(self.points) if self.points else np.zeros((0, 3))


@dataclass
class Camera:
    """A pinhole camera: world point p maps to rotation @ (p - eye), then perspective.

    The rotation's rows are the camera's right, down and forward axes in world coordinates;
    pixel coordinates are focal * (x / z, y / z) + (cx, cy).
    """

    eye: np.ndarray
    rotation: np.ndarray
    focal: float = 1.0
    cx: float = 0.0
    cy: float = 0.0

    def to_camera(self, points):
        """World points (n, 3) to camera coordinates (n, 3)."""
        return (np.asarray(points) - self.eye) @ self.rotation.T

    def project(self, points):
        """World points (n, 3) to pixel coordinates (n, 2) and depth (n,)."""
        cam = self.to_camera(points)
        depth = np.maximum(cam[:, 2], 1e-3)
        pixels = self.focal * cam[:, :2] / depth[:, None] + (self.cx, self.cy)
        return pixels, depth

    def horizon(self, width):
        """Two pixel points (x0, y0, x1, y1) on the image of the horizon (ground at infinity).

        They lie at the image's left and right edges (x = 0 and x = `width`).
        """
        forward = self.rotation[2].copy()
        forward[2] = 0.0
        norm = np.linalg.norm(forward)
        forward = forward / norm if norm > 1e-6 else np.array([1.0, 0.0, 0.0])
        side = np.array([-forward[1], forward[0], 0.0])
        dirs = np.stack([forward + 0.5 * side, forward - 0.5 * side]) @ self.rotation.T
        pixels = self.focal * dirs[:, :2] / dirs[:, 2:3] + (self.cx, self.cy)
        (xa, ya), (xb, yb) = pixels
        slope = (yb - ya) / (xb - xa) if abs(xb - xa) > 1e-9 else 0.0
        return 0.0, ya - slope * xa, float(width), ya + slope * (width - xa)


def look_at(eye, target, roll_degrees=0.0):
    """Rotation (rows right, down, forward) of a camera at `eye` looking at `target`, z up."""
    forward = np.asarray(target, float) - np.asarray(eye, float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    roll = np.radians(roll_degrees)
    c, s = np.cos(roll), np.sin(roll)
    right, down = c * right + s * down, -s * right + c * down
    return np.stack([right, down, forward])


def orbit_eye(azimuth_degrees, elevation_degrees, distance, target=(0.0, 0.0, 0.0)):
    """Camera position on a sphere around `target`.

    Azimuth 0 puts the camera on the +y side (the car's left), 90 on +x (its front), 180 on
    -y (its right), 270 on -x (its rear), as in `cargen.views.VIEW_AZIMUTH_DEGREES`.
    """
    a, e = np.radians(azimuth_degrees), np.radians(elevation_degrees)
    offset = distance * np.array([np.sin(a) * np.cos(e), np.cos(a) * np.cos(e), np.sin(e)])
    return np.asarray(target, float) + offset


def fit_camera(camera, points, width, height, fill, center):
    """Set `camera`'s focal length and centre so `points` span `fill` of the frame.

    `fill` is the share of the width (or of the height, if that is tighter) the points'
    bounding box takes; `center` the pixel position of the box's centre.
    """
    cam = camera.to_camera(points)
    depth = np.maximum(cam[:, 2], 1e-3)
    unit = cam[:, :2] / depth[:, None]
    low, high = unit.min(axis=0), unit.max(axis=0)
    span = np.maximum(high - low, 1e-6)
    camera.focal = float(min(fill * width / span[0], fill * height / span[1]))
    mid = (low + high) / 2
    camera.cx = float(center[0] - camera.focal * mid[0])
    camera.cy = float(center[1] - camera.focal * mid[1])
    return camera


@dataclass
class Lighting:
    """One directional light plus a two-colour environment (sky above, ground below)."""

    direction: np.ndarray          # unit vector pointing towards the light
    light_rgb: np.ndarray = None   # light colour, 0..1 (default white)
    ambient: float = 0.45
    diffuse: float = 0.75
    sky_rgb: np.ndarray = None     # environment above the horizon, 0..1
    ground_rgb: np.ndarray = None  # environment below the horizon, 0..1

    def __post_init__(self):
        self.direction = np.asarray(self.direction, float)
        self.direction /= np.linalg.norm(self.direction)
        for name, default in (("light_rgb", (1.0, 1.0, 1.0)), ("sky_rgb", (0.8, 0.85, 0.9)),
                              ("ground_rgb", (0.3, 0.3, 0.3))):
            value = getattr(self, name)
            setattr(self, name, np.asarray(default if value is None else value, float))


def _polygon_arrays(scene):
    counts = np.array([len(p) for p in scene.points])
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    points = np.concatenate(scene.points)
    owner = np.repeat(np.arange(len(counts)), counts)
    following = np.arange(len(points)) + 1
    last = starts + counts - 1
    following[last] = starts
    return points, counts, starts, owner, following


def shade(normals, view_dirs, albedo, materials, lighting):
    """Flat colours (n, 3) in 0..1 for faces with unit `normals` seen along `view_dirs`."""
    table = MATERIALS[materials]
    kd, base_refl, fresnel_w, ks, shininess, emission = table.T
    n_dot_v = np.sum(normals * view_dirs, axis=1)
    facing = np.abs(n_dot_v)
    normals = normals * np.where(n_dot_v < 0, -1.0, 1.0)[:, None]
    n_dot_l = np.clip(normals @ lighting.direction, 0.0, 1.0)
    hemi = 0.65 + 0.35 * normals[:, 2]
    reflected = 2 * facing[:, None] * normals - view_dirs
    up = reflected[:, 2]
    sky_share = np.clip(0.5 + up * 6.0, 0.0, 1.0)[:, None]
    sky = lighting.sky_rgb * (0.85 + 0.3 * np.clip(up, 0, 1))[:, None]
    environment = sky * sky_share + lighting.ground_rgb * (1 - sky_share)
    fresnel = (1.0 - facing) ** 4
    reflect = np.clip(base_refl + fresnel_w * fresnel * 0.6, 0.0, 0.95)[:, None]
    lit = lighting.ambient * hemi + lighting.diffuse * n_dot_l
    diffuse = albedo * (kd * lit)[:, None] * lighting.light_rgb
    spec_angle = np.clip(reflected @ lighting.direction, 0.0, 1.0)
    specular = (ks * spec_angle ** shininess)[:, None] * lighting.light_rgb
    color = diffuse * (1 - reflect) + environment * reflect + specular
    color = color * (1 - emission[:, None]) + albedo * emission[:, None]
    return np.clip(color, 0.0, 1.0)


# How much of a per-pixel reflection each material shows (0..255), for `draw_scene`'s mask.
REFLECTION_MASK = np.array([255, 230, 160, 0, 40, 60, 0, 0])


def draw_scene(image, scene, camera, lighting, scale=1.0, mask=None):
    """Draw `scene` onto the Pillow RGB `image` through `camera`, far groups first.

    `scale` multiplies pixel coordinates (the camera is fitted at the output size; the canvas
    may be supersampled). With `mask` (an 'L' image of the same size) each polygon is also
    drawn there with its material's REFLECTION_MASK value, which says where a reflection
    texture may be laid over the car. Returns the number of polygons drawn.
    """
    if not scene.points:
        return 0
    points, counts, starts, owner, following = _polygon_arrays(scene)
    cross = np.cross(points, points[following])
    normals = np.add.reduceat(cross, starts)
    length = np.linalg.norm(normals, axis=1)
    normals = normals / np.maximum(length, 1e-12)[:, None]
    centroids = np.add.reduceat(points, starts) / counts[:, None]
    to_eye = camera.eye - centroids
    distance = np.linalg.norm(to_eye, axis=1)
    view_dirs = to_eye / np.maximum(distance, 1e-9)[:, None]
    facing = np.sum(normals * view_dirs, axis=1)
    cull = np.array(scene.cull)
    visible = (length > 1e-12) & ((facing > 1e-4) | ~cull)

    groups = np.array(scene.groups)
    group_depth = np.bincount(groups, weights=distance, minlength=scene.group_count)
    group_size = np.bincount(groups, minlength=scene.group_count)
    group_depth = group_depth / np.maximum(group_size, 1) + np.array(scene.group_bias)
    order = np.lexsort((np.arange(len(counts)), -group_depth[groups]))
    order = order[visible[order]]

    albedo = np.array(scene.colors, dtype=np.float64)[order] / 255.0
    colors = shade(normals[order], view_dirs[order], albedo,
                   np.array(scene.materials)[order], lighting)
    colors = np.round(colors * 255).astype(np.uint8).tolist()
    pixels, _ = camera.project(points)
    pixels = (pixels * scale).astype(np.float32)
    draw = ImageDraw.Draw(image)
    if mask is None:
        for index, color in zip(order.tolist(), colors):
            start = starts[index]
            draw.polygon(pixels[start:start + counts[index]].ravel().tolist(), fill=tuple(color))
        return len(order)
    mask_draw = ImageDraw.Draw(mask)
    mask_values = REFLECTION_MASK[np.array(scene.materials)[order]].tolist()
    for index, color, value in zip(order.tolist(), colors, mask_values):
        start = starts[index]
        flat = pixels[start:start + counts[index]].ravel().tolist()
        draw.polygon(flat, fill=tuple(color))
        mask_draw.polygon(flat, fill=value)
    return len(order)


def newell_normal(points):
    """The (unnormalised) normal of a planar polygon, right-handed in vertex order."""
    p = np.asarray(points, float)
    q = np.concatenate([p[1:], p[:1]])
    return np.array([
        np.dot(p[:, 1] - q[:, 1], p[:, 2] + q[:, 2]),
        np.dot(p[:, 2] - q[:, 2], p[:, 0] + q[:, 0]),
        np.dot(p[:, 0] - q[:, 0], p[:, 1] + q[:, 1]),
    ])


def oriented(points, outward):
    """`points` in the order whose normal points along `outward` (reversed if needed)."""
    points = np.asarray(points, float)
    return points if newell_normal(points) @ np.asarray(outward, float) >= 0 else points[::-1]


def clip_polygon(polygon, axis, low, high):
    """Clip a 2D polygon (k, 2) to the slab low <= p[axis] <= high (Sutherland-Hodgman).

    Works for non-convex polygons; a result that falls apart into pieces stays one polygon
    joined by zero-width bridges along the clip line, which fills correctly. Returns an array
    of shape (m, 2), m = 0 when nothing is left. Orientation is preserved.
    """
    result = np.asarray(polygon, float)
    coordinate = result[:, axis]
    smallest, largest = coordinate.min(), coordinate.max()
    if smallest >= low and largest <= high:
        return result
    if largest < low or smallest > high:
        return np.zeros((0, 2))
    for bound, sign in ((low, 1.0), (high, -1.0)):
        values = (result[:, axis] - bound) * sign
        inside = values >= 0
        if inside.all():
            continue
        if not inside.any():
            return np.zeros((0, 2))
        count = len(result)
        following = np.arange(1, count + 1)
        following[-1] = 0
        crossing = inside != inside[following]
        t = values / np.where(crossing, values - values[following], 1.0)
        candidates = np.empty((count, 2, 2))
        candidates[:, 0] = result
        candidates[:, 1] = result + t[:, None] * (result[following] - result)
        keep = np.empty((count, 2), bool)
        keep[:, 0] = inside
        keep[:, 1] = crossing
        result = candidates[keep]
    return result


def signed_area(polygon):
    """Signed area of a 2D polygon: positive when counter-clockwise."""
    x, y = np.asarray(polygon, float).T
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def inset_polygon(polygon, distances):
    """Move each vertex of a counter-clockwise 2D polygon inwards by `distances` (per vertex).

    Vertices move along the bisector of their two edges' inward normals, lengthened so that
    both edges move by the distance (mitre), with the lengthening capped at 2x.
    """
    polygon = np.asarray(polygon, float)
    edges = np.roll(polygon, -1, axis=0) - polygon
    edges /= np.maximum(np.linalg.norm(edges, axis=1), 1e-12)[:, None]
    inward = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
    bisector = inward + np.roll(inward, 1, axis=0)
    norm = np.maximum(np.linalg.norm(bisector, axis=1), 1e-12)
    bisector /= norm[:, None]
    cosine = np.maximum(np.sum(bisector * inward, axis=1), 0.5)
    return polygon + bisector * (np.asarray(distances, float) / cosine)[:, None]


def vertex_inward_normals(polygon):
    """Unit inward bisector at each vertex of a counter-clockwise 2D polygon."""
    polygon = np.asarray(polygon, float)
    edges = np.roll(polygon, -1, axis=0) - polygon
    edges /= np.maximum(np.linalg.norm(edges, axis=1), 1e-12)[:, None]
    inward = np.stack([-edges[:, 1], edges[:, 0]], axis=1)
    bisector = inward + np.roll(inward, 1, axis=0)
    return bisector / np.maximum(np.linalg.norm(bisector, axis=1), 1e-12)[:, None]


_ARC_STEPS = {}


def arc(center, radius, start_degrees, stop_degrees, count):
    """`count` points on a circle arc in 2D, from start to stop angle (degrees, inclusive)."""
    steps = _ARC_STEPS.get(count)
    if steps is None:
        steps = _ARC_STEPS[count] = np.linspace(0.0, 1.0, count)
    angles = np.radians(start_degrees + (stop_degrees - start_degrees) * steps)
    return np.stack([center[0] + radius * np.cos(angles),
                     center[1] + radius * np.sin(angles)], axis=1)


def rounded_rectangle(x0, y0, x1, y1, radius, corner_points=4):
    """A counter-clockwise 2D rounded rectangle."""
    radius = min(radius, (x1 - x0) / 2, (y1 - y0) / 2)
    corners = [((x1 - radius, y0 + radius), -90, 0), ((x1 - radius, y1 - radius), 0, 90),
               ((x0 + radius, y1 - radius), 90, 180), ((x0 + radius, y0 + radius), 180, 270)]
    return np.concatenate([arc(c, radius, a, b, corner_points) for c, a, b in corners])


def resample_polyline(points, max_length):
    """Insert points so no segment of the open polyline is longer than `max_length`."""
    points = np.asarray(points, float)
    steps = points[1:] - points[:-1]
    pieces = np.maximum(1, np.ceil(np.linalg.norm(steps, axis=1) / max_length)).astype(int)
    owner = np.repeat(np.arange(len(steps)), pieces)
    within = np.arange(len(owner)) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    fraction = (within / pieces[owner])[:, None]
    return np.concatenate([points[owner] + steps[owner] * fraction, points[-1:]])
