"""Procedural cars: a 3D body built from a side profile, and photographs of it from any view.

A car is described by a `CarShape` (body style and proportions in metres) and a `CarLook`
(paint, glass, wheels, lamps). `build_car` turns them into polygons: the lower body ("tub") is
the side profile (bumpers, hood, beltline, trunk or tailgate, wheel arches) extruded to the car's
width with rounded edges; the greenhouse (windshield, roof, rear window) is a narrower extrusion
on top with tumblehome; four wheels are short cylinders with rims; mirrors are small boxes.
Head lamps, grille, tail lamps, plates, windows and door seams are decals on the panels.

World axes: x points to the car's front, y to its left side, z up; the car stands on z = 0
centred on the origin. `cargen.synthetic.car_photo` photographs it.
"""

from dataclasses import dataclass, field

import numpy as np

from cargen.synthetic.render_mesh import (
    CHROME,
    EMISSIVE,
    GLASS,
    LAMP,
    MATTE,
    PAINT,
    PLASTIC,
    RUBBER,
    arc,
    clip_polygon,
    inset_polygon,
    oriented,
    resample_polyline,
    rounded_rectangle,
    signed_area,
    vertex_inward_normals,
)
from cargen.synthetic.render_scenes import sample_paint

STYLES = ("sedan", "hatchback", "coupe", "wagon", "suv", "pickup", "van")

# Per body style: ranges (low, high) of length, width, height (m), ground clearance, wheel
# radius, front and rear overhang, beltline height as a share of the height, hood length as a
# share of the length, windshield and rear-glass rake (degrees from horizontal), trunk or bed
# length (m, 0 = the greenhouse runs to the tail), tumblehome (m), and the plan-view rounding
# of the front and rear corners (m).
STYLE_RANGES = {
    "sedan": dict(length=(4.5, 5.1), width=(1.78, 1.9), height=(1.40, 1.50),
                  clearance=(0.13, 0.17), wheel=(0.32, 0.35), front_overhang=(0.85, 1.0),
                  rear_overhang=(1.0, 1.15), belt=(0.63, 0.69), hood=(0.25, 0.30),
                  windshield=(25, 32), rear_glass=(26, 36), trunk=(0.85, 1.1),
                  tumblehome=(0.14, 0.22), front_round=(0.14, 0.28), rear_round=(0.1, 0.2)),
    "hatchback": dict(length=(3.9, 4.4), width=(1.7, 1.8), height=(1.42, 1.55),
                      clearance=(0.13, 0.16), wheel=(0.30, 0.33), front_overhang=(0.8, 0.9),
                      rear_overhang=(0.6, 0.78), belt=(0.6, 0.66), hood=(0.21, 0.26),
                      windshield=(26, 33), rear_glass=(52, 70), trunk=(0.0, 0.0),
                      tumblehome=(0.12, 0.2), front_round=(0.14, 0.26), rear_round=(0.1, 0.2)),
    "coupe": dict(length=(4.3, 4.8), width=(1.8, 1.93), height=(1.26, 1.38),
                  clearance=(0.11, 0.14), wheel=(0.33, 0.36), front_overhang=(0.85, 1.0),
                  rear_overhang=(0.85, 1.05), belt=(0.64, 0.7), hood=(0.30, 0.36),
                  windshield=(21, 26), rear_glass=(15, 23), trunk=(0.5, 0.75),
                  tumblehome=(0.16, 0.24), front_round=(0.18, 0.3), rear_round=(0.12, 0.22)),
    "wagon": dict(length=(4.6, 5.0), width=(1.78, 1.88), height=(1.45, 1.55),
                  clearance=(0.13, 0.17), wheel=(0.32, 0.35), front_overhang=(0.85, 1.0),
                  rear_overhang=(0.95, 1.1), belt=(0.6, 0.66), hood=(0.24, 0.28),
                  windshield=(25, 31), rear_glass=(60, 76), trunk=(0.0, 0.0),
                  tumblehome=(0.12, 0.18), front_round=(0.14, 0.26), rear_round=(0.1, 0.18)),
    "suv": dict(length=(4.4, 5.2), width=(1.82, 2.0), height=(1.65, 1.85),
                clearance=(0.19, 0.24), wheel=(0.36, 0.40), front_overhang=(0.85, 1.0),
                rear_overhang=(0.85, 1.05), belt=(0.58, 0.64), hood=(0.22, 0.27),
                windshield=(31, 40), rear_glass=(66, 82), trunk=(0.0, 0.0),
                tumblehome=(0.08, 0.14), front_round=(0.1, 0.2), rear_round=(0.08, 0.16)),
    "pickup": dict(length=(5.2, 5.9), width=(1.95, 2.05), height=(1.8, 1.95),
                   clearance=(0.22, 0.27), wheel=(0.38, 0.42), front_overhang=(0.9, 1.05),
                   rear_overhang=(1.1, 1.3), belt=(0.6, 0.66), hood=(0.24, 0.28),
                   windshield=(33, 40), rear_glass=(86, 89), trunk=(1.6, 2.0),
                   tumblehome=(0.06, 0.12), front_round=(0.08, 0.16), rear_round=(0.04, 0.08)),
    "van": dict(length=(4.9, 5.2), width=(1.93, 2.0), height=(1.72, 1.82),
                clearance=(0.15, 0.18), wheel=(0.34, 0.37), front_overhang=(0.9, 1.0),
                rear_overhang=(0.95, 1.1), belt=(0.54, 0.6), hood=(0.12, 0.16),
                windshield=(27, 34), rear_glass=(74, 86), trunk=(0.0, 0.0),
                tumblehome=(0.08, 0.12), front_round=(0.12, 0.22), rear_round=(0.08, 0.14)),
}

@dataclass
class CarShape:
    """Body style and proportions of one car, in metres (x front, y left, z up)."""

    style: str
    length: float
    width: float
    height: float
    clearance: float
    wheel_radius: float
    tyre_width: float
    front_axle: float
    rear_axle: float
    arch_radius: float
    belt: float
    hood_front: float
    nose: float
    nose_setback: float
    cowl: float
    windshield_top: float
    roof_end: float
    rear_base: float
    deck: float
    tumblehome: float
    front_round: float
    rear_round: float
    shoulder_round: float
    roof_round: float
    crown: float
    doors: int

    @property
    def front(self):
        """x of the front bumper."""
        return self.length / 2

    @property
    def rear(self):
        """x of the rear bumper."""
        return -self.length / 2


@dataclass
class CarLook:
    """Colours and detail choices of one car (RGB 0..255)."""

    paint: tuple
    pillar: tuple
    glass: tuple
    trim: tuple
    rim: tuple
    rim_material: int
    spokes: int
    rim_share: float
    grille: tuple
    grille_style: int
    headlamp: tuple
    lamp_shape: int
    tail_lamp: tuple
    cladding: bool
    roof: tuple
    extras: dict = field(default_factory=dict)


def _uniform(rng, bounds):
    low, high = bounds
    return float(rng.uniform(low, high)) if high > low else float(low)


def sample_shape(rng, style, dimensions=None):
    """Random proportions for `style`; `dimensions` (length, width, height in m) if given."""
    ranges = STYLE_RANGES[style]
    if dimensions is None:
        length, width, height = (_uniform(rng, ranges[k]) for k in ("length", "width", "height"))
    else:
        length, width, height = dimensions
    clearance = _uniform(rng, ranges["clearance"])
    wheel = _uniform(rng, ranges["wheel"])
    front_axle = length / 2 - _uniform(rng, ranges["front_overhang"])
    rear_axle = -length / 2 + _uniform(rng, ranges["rear_overhang"]) * min(1.0, length / 4.6)
    belt = height * _uniform(rng, ranges["belt"])
    belt = max(belt, wheel * 2.25 + 0.05)
    tall = style in ("suv", "pickup")
    hood_drop = rng.uniform(0.0, 0.06) if tall else rng.uniform(0.06, 0.15)
    if style == "van":
        hood_drop = rng.uniform(0.12, 0.22)
    nose = {"suv": (0.6, 0.72), "pickup": (0.72, 0.86), "van": (0.5, 0.6)}.get(style, (0.45, 0.55))
    nose = min(_uniform(rng, nose), belt - hood_drop - 0.1)
    setback = rng.uniform(0.03, 0.1) if tall else rng.uniform(0.1, 0.22)
    glass_height = height - belt
    cowl = length / 2 - length * _uniform(rng, ranges["hood"])
    windshield_run = glass_height / np.tan(np.radians(_uniform(rng, ranges["windshield"])))
    rear_run = glass_height / np.tan(np.radians(_uniform(rng, ranges["rear_glass"])))
    trunk = _uniform(rng, ranges["trunk"])
    rear_base = -length / 2 + (trunk if trunk > 0 else rng.uniform(0.03, 0.1))
    min_roof = {"coupe": 0.35, "pickup": 0.9, "van": 1.8, "suv": 1.3, "wagon": 1.3}.get(style, 0.6)
    roof = cowl - windshield_run - rear_base - rear_run
    if roof < min_roof:
        shrink = min(0.9, (min_roof - roof) / (windshield_run + rear_run))
        windshield_run *= 1 - shrink
        rear_run *= 1 - shrink
    deck_rise = rng.uniform(0.0, 0.07) if style in ("sedan", "coupe") else 0.0
    return CarShape(
        style=style, length=length, width=width, height=height, clearance=clearance,
        wheel_radius=wheel, tyre_width=rng.uniform(0.2, 0.27) * (1.1 if tall else 1.0),
        front_axle=front_axle, rear_axle=rear_axle, arch_radius=wheel * rng.uniform(1.1, 1.2),
        belt=belt, hood_front=belt - hood_drop, nose=nose, nose_setback=setback, cowl=cowl,
        windshield_top=cowl - windshield_run, roof_end=rear_base + rear_run,
        rear_base=rear_base, deck=belt + deck_rise,
        tumblehome=_uniform(rng, ranges["tumblehome"]),
        front_round=_uniform(rng, ranges["front_round"]),
        rear_round=_uniform(rng, ranges["rear_round"]),
        shoulder_round=rng.uniform(0.05, 0.11), roof_round=rng.uniform(0.07, 0.13),
        crown=rng.uniform(0.015, 0.045),
        doors=2 if style == "coupe" or (style == "hatchback" and rng.random() < 0.3) else 4,
    )


def _jitter(rng, rgb, amount):
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in rgb)


def sample_look(rng, style):
    """Random colours and details for a car of `style`."""
    paint = tuple(int(v) for v in sample_paint(rng))
    dark = (22, 22, 24)
    pillar = dark if rng.random() < 0.45 else paint
    rim_choices = [((200, 202, 206), CHROME), ((170, 172, 176), PAINT), ((60, 62, 66), PAINT),
                   ((30, 30, 32), PAINT), ((215, 215, 218), CHROME)]
    rim, rim_material = rim_choices[rng.choice(len(rim_choices), p=[0.4, 0.25, 0.15, 0.1, 0.1])]
    grille = [(20, 20, 22), (35, 36, 40), (150, 152, 158)][rng.choice(3, p=[0.6, 0.25, 0.15])]
    tall = style in ("suv", "pickup", "van")
    extras = {"brake": (int(rng.uniform(35, 110)),) * 3,
              "window_trim": (200, 202, 206) if rng.random() < 0.35 else None}
    return CarLook(
        extras=extras,
        paint=paint, pillar=pillar, glass=_jitter(rng, (32, 38, 46), 6), trim=dark,
        rim=_jitter(rng, rim, 6), rim_material=rim_material, spokes=int(rng.integers(5, 11)),
        rim_share=rng.uniform(0.62, 0.8), grille=grille, grille_style=int(rng.integers(0, 4)),
        headlamp=_jitter(rng, (205, 210, 218), 10), lamp_shape=int(rng.integers(0, 4)),
        tail_lamp=_jitter(rng, (205, 22, 28), 12),
        cladding=bool(tall and rng.random() < 0.5) or bool(style == "wagon" and rng.random() < 0.2),
        roof=dark if rng.random() < 0.08 else paint,
    )


# --------------------------------------------------------------------------- profiles


@dataclass
class Profile:
    """A closed counter-clockwise side profile (x right, z up) with per-vertex rounding.

    `kinds[i]` names the edge from vertex i to i + 1; edges of one kind that are listed in
    `chains` form one draw group (so decals can span them).
    """

    points: np.ndarray
    rounding: np.ndarray
    kinds: list
    chains: dict = field(default_factory=dict)


def _tub_profile(shape):
    """The lower body's side profile, counter-clockwise from the rear end of the underside.

    Edge kinds: bottom, arch, front (bumper and fascia), hood, cabin (under the greenhouse),
    deck (trunk lid) or bed (pickup), rear (tail panel and bumper).
    """
    s = shape
    c = s.clearance
    points, kinds, rounding = [], [], []

    def add(xz, kind, radius):
        points.append(xz)
        kinds.append(kind)
        rounding.append(radius)

    add((s.rear + s.rear_round * 0.6, c + 0.05), "bottom", s.rear_round * 0.7)
    for axle in (s.rear_axle, s.front_axle):
        below = np.clip((c - s.wheel_radius) / s.arch_radius, -0.95, 0.0)
        start = np.degrees(np.pi - np.arcsin(below))
        arch = arc((axle, s.wheel_radius), s.arch_radius, start, 180 - start, 11)
        for k, xz in enumerate(arch):
            add(xz, "arch" if k < len(arch) - 1 else "bottom", 0.0)
    add((s.front - s.front_round * 0.5, c + 0.04), "bottom", s.front_round * 0.7)
    add((s.front - 0.05, c + 0.12), "front", s.front_round)
    add((s.front, s.nose), "front", s.front_round)
    hood_front = (s.front - s.nose_setback, s.hood_front)
    hood_mid = np.add(hood_front, (s.cowl, s.belt)) / 2 + (0.0, 0.03)
    for xz in resample_polyline([hood_front, hood_mid, (s.cowl, s.belt)], 0.45)[:-1]:
        add(xz, "hood", s.shoulder_round)
    for xz in resample_polyline([(s.cowl, s.belt), (s.rear_base, s.belt)], 0.6)[:-1]:
        add(xz, "cabin", s.shoulder_round)
    if s.style in ("sedan", "coupe", "pickup"):
        deck_end = (s.rear + (0.03 if s.style == "pickup" else 0.1), s.deck)
        kind = "bed" if s.style == "pickup" else "deck"
        for xz in resample_polyline([(s.rear_base, s.belt), deck_end], 0.5)[:-1]:
            add(xz, kind, s.shoulder_round)
        add(deck_end, "rear", s.rear_round)
        rear_top = s.deck
    else:
        add((s.rear_base, s.belt), "rear", s.rear_round)
        rear_top = s.belt
    add((s.rear + 0.02, rear_top - 0.07), "rear", s.rear_round)
    add((s.rear, max(rear_top - 0.38, c + 0.3)), "rear", s.rear_round)
    add((s.rear + 0.03, c + 0.16), "bottom", s.rear_round)
    return Profile(np.array(points, float), np.array(rounding, float), kinds)


def _greenhouse_profile(shape):
    s = shape
    top = s.height - s.crown
    base_front, base_rear = (s.cowl, s.belt), (s.rear_base, s.belt)
    ws_top = (s.windshield_top, top)
    ws_dir = np.subtract(ws_top, base_front)
    ws_mid = np.add(base_front, ws_dir * 0.5) + np.array([ws_dir[1], -ws_dir[0]]) * 0.04
    roof = resample_polyline([ws_top, ((s.windshield_top + s.roof_end) / 2, s.height),
                              (s.roof_end, top - 0.01)], 0.5)
    rear_dir = np.subtract(base_rear, roof[-1])
    bulge = 0.1 if s.style in ("sedan", "coupe") else 0.03
    rear_mid = np.add(roof[-1], rear_dir * 0.45) + np.array([rear_dir[1], -rear_dir[0]]) * bulge
    points = np.concatenate([[base_rear, base_front, ws_mid], roof, [rear_mid]])
    kinds = ["base", "windshield", "windshield"] + ["roof"] * (len(roof) - 1) + ["rear_glass"] * 2
    rounding = np.full(len(points), s.roof_round)
    rounding[:2] = 0.0
    return Profile(points, rounding, kinds)


# --------------------------------------------------------------------------- extrusion


class Extrusion:
    """A side profile extruded across y with rounded edges; builds rings, bands and sides.

    `half_width(z)` gives the half-width of the flat side surface at height z. Each profile
    vertex has a ring of points across the car (right side to left side): the side-surface
    vertex, a rounding midpoint, the band edge, its mirror, and so on.
    """

    def __init__(self, profile, half_width):
        self.profile = profile
        self.half_width = half_width
        points, rounding = profile.points, profile.rounding
        inward = vertex_inward_normals(points)
        self.inner = points + inward * rounding[:, None]
        c45 = np.cos(np.radians(45))
        mid = points + inward * (rounding * (1 - c45))[:, None]
        hw = half_width(self.inner[:, 1])
        rings = []
        for i in range(len(points)):
            (x, z), (xm, zm), (xi, zi) = points[i], mid[i], self.inner[i]
            band = hw[i] - rounding[i]
            bevel = band + rounding[i] * c45
            rings.append([(xi, -hw[i], zi), (xm, -bevel, zm), (x, -band, z),
                          (x, band, z), (xm, bevel, zm), (xi, hw[i], zi)])
        self.rings = np.array(rings)

    def edge_quads(self, i):
        """The five quads across the car between profile vertices i and i + 1 (the four
        rounding quads are None where both vertices are unrounded: they have no area)."""
        j = (i + 1) % len(self.rings)
        a, b = self.rings[i], self.rings[j]
        flat = self.profile.rounding[i] == 0 and self.profile.rounding[j] == 0
        return [None if flat and k != 2 else np.array([a[k], a[k + 1], b[k + 1], b[k]])
                for k in range(5)]

    def ring_at(self, t):
        """Rings interpolated at profile parameters t (vertex index plus fraction), (m, 6, 3)."""
        t = np.atleast_1d(np.asarray(t, float))
        i = np.floor(t).astype(int) % len(self.rings)
        f = (t - np.floor(t))[:, None, None]
        return self.rings[i] * (1 - f) + self.rings[(i + 1) % len(self.rings)] * f

    def surface_points(self, t, across):
        """Points on the band at profile parameters `t`; `across` in metres of arc from the
        car's centre line (positive towards its left side), clamped to the side surfaces."""
        rings = self.ring_at(t)
        lengths = np.linalg.norm(np.diff(rings, axis=1), axis=2)
        arc_pos = np.concatenate([np.zeros((len(rings), 1)), np.cumsum(lengths, axis=1)], axis=1)
        arc_pos -= arc_pos[:, -1:] / 2
        across = np.clip(np.asarray(across, float), arc_pos[:, 0], arc_pos[:, -1])
        k = np.clip((across[:, None] >= arc_pos[:, 1:-1]).sum(axis=1), 0, 4)
        rows = np.arange(len(rings))
        f = ((across - arc_pos[rows, k]) / np.maximum(lengths[rows, k], 1e-9))[:, None]
        return rings[rows, k] * (1 - f) + rings[rows, k + 1] * f

    def half_arc(self, t):
        """Half the arc length across the band at parameter t."""
        ring = self.ring_at(t)[0]
        return float(np.linalg.norm(np.diff(ring, axis=0), axis=1).sum() / 2)


def _to_side(polygon, side, half_width, lift=0.0):
    """(x, z) points on a side surface: y = side * (half_width(z) + lift)."""
    points = np.empty((len(polygon), 3))
    points[:, 0] = polygon[:, 0]
    points[:, 1] = side * (half_width(polygon[:, 1]) + lift)
    points[:, 2] = polygon[:, 1]
    return points


def _chain_param(profile, kind, z_values):
    """Profile parameter t for heights along the edges of `kind` (a monotone chain)."""
    chain = profile.chains.get(kind)
    if chain is None:
        index = [i for i, k in enumerate(profile.kinds) if k == kind]
        ts = np.array(index + [index[-1] + 1], float)
        zs = profile.points[np.array(index + [index[-1] + 1]) % len(profile.points), 1]
        chain = profile.chains[kind] = (ts, zs) if zs[0] <= zs[-1] else (ts[::-1], zs[::-1])
    return np.interp(z_values, chain[1], chain[0])


class BandDecals:
    """Decals for one band chain (such as the front), mapped onto it all at once.

    `add` takes a polygon as (across metres from the centre line, z) and returns its index;
    `place` maps every polygon onto the band in one vectorised step and adds them to a
    scene group in the order they were added (so later decals lie on earlier ones).
    """

    def __init__(self, extrusion, kind):
        self.extrusion, self.kind = extrusion, kind
        self.items = []

    def add(self, polygon_yz, color=None, material=None, densify=0.03):
        """Queue a polygon; returns its index in `place`'s result."""
        polygon_yz = np.asarray(polygon_yz, float)
        polygon = resample_polyline(np.concatenate([polygon_yz, polygon_yz[:1]]), densify)[:-1]
        self.items.append((polygon, color, material))
        return len(self.items) - 1

    def place(self, scene=None, group=None):
        """3D points of every queued polygon, facing outwards; added to `scene` if given
        (polygons queued without a colour are only returned)."""
        if not self.items:
            return []
        flat = np.concatenate([polygon for polygon, _, _ in self.items])
        ts = _chain_param(self.extrusion.profile, self.kind, flat[:, 1])
        points = self.extrusion.surface_points(ts, flat[:, 0])
        ts_chain, zs_chain = self.extrusion.profile.chains[self.kind]
        # A counter-clockwise (across, z) polygon faces out where z grows along the chain.
        rising = (ts_chain[-1] - ts_chain[0]) * (zs_chain[-1] - zs_chain[0]) >= 0
        placed, start = [], 0
        for polygon, color, material in self.items:
            piece = points[start:start + len(polygon)]
            start += len(polygon)
            if (signed_area(polygon) > 0) != rising:
                piece = piece[::-1]
            placed.append(piece)
            if scene is not None and color is not None:
                scene.add(piece, color, material, group)
        return placed


# --------------------------------------------------------------------------- the car


def _lamp_outline(shape_kind, inner, outer, low, high, slant):
    """A lamp outline in (across, z): a slanted quad, a rounded one, a sweep or a slim strip."""
    if shape_kind == 1:
        box = rounded_rectangle(inner, low, outer, high, (high - low) * 0.45, 3)
        box[:, 1] += (box[:, 0] - inner) / max(outer - inner, 1e-6) * slant
        return box
    if shape_kind == 2:
        return np.array([[inner, low + slant * 0.5], [outer, low], [outer, high + slant],
                         [inner + (outer - inner) * 0.35, high], [inner, high - (high - low) * 0.3]])
    if shape_kind == 3:
        mid = (low + high) / 2
        return np.array([[inner, mid - 0.02], [outer, low], [outer, high], [inner, mid + 0.025]])
    return np.array([[inner, low], [outer, low + slant], [outer, high + slant], [inner, high]])


def _mirror(values):
    """The (across, z) polygon mirrored to the car's other side, still counter-clockwise."""
    polygon = np.asarray(values, float).copy()
    polygon[:, 0] *= -1
    return polygon[::-1]


def _add_front(scene, tub, shape, look, rng, group, parts):
    """Head lamps, grille, badge, intake and maybe a plate on the front chain of `tub`."""
    s = shape
    decals = BandDecals(tub, "front")
    t_hood = _chain_param(tub.profile, "front", [s.hood_front])[0]
    half = tub.half_arc(t_hood)
    lamp_high = s.hood_front - rng.uniform(0.02, 0.06)
    lamp_low = lamp_high - rng.uniform(0.11, 0.22) * (1.2 if s.style in ("suv", "pickup") else 1)
    lamp_inner = half * rng.uniform(0.42, 0.62)
    lamp = _lamp_outline(look.lamp_shape, lamp_inner, half * 1.02, lamp_low, lamp_high,
                         rng.uniform(-0.04, 0.05))
    lamps = []
    housing = (55, 58, 64) if rng.random() < 0.5 else (150, 153, 160)
    projectors = int(rng.integers(1, 3))
    drl = rng.random() < 0.6
    for polygon in (lamp, _mirror(lamp)):
        lamps.append(decals.add(polygon, look.headlamp, LAMP))
        # Inside the clear lens: a housing, one or two round projectors, a daytime strip.
        centre = polygon.mean(axis=0)
        decals.add(centre + (polygon - centre) * 0.78, housing, CHROME)
        size = (lamp_high - lamp_low) * 0.32
        spread = (polygon[:, 0].max() - polygon[:, 0].min()) * 0.22
        for k in range(projectors):
            offset = 0.0 if projectors == 1 else (k - 0.5) * 2 * spread
            cx = centre[0] + offset
            bulb = rounded_rectangle(cx - size, centre[1] - size, cx + size, centre[1] + size,
                                     size, 3)
            decals.add(bulb, (246, 248, 252), EMISSIVE)
        if drl:
            low = polygon[:, 1].min() + (lamp_high - lamp_low) * 0.12
            x_lo, x_hi = polygon[:, 0].min(), polygon[:, 0].max()
            strip = np.array([[x_lo + 0.02, low], [x_hi - 0.02, low], [x_hi - 0.02, low + 0.018],
                              [x_lo + 0.02, low + 0.018]])
            decals.add(strip, (252, 252, 255), EMISSIVE)
    grille_half = lamp_inner * rng.uniform(0.7, 0.98)
    grille_top = lamp_high - rng.uniform(0.0, 0.04)
    tall = s.style in ("suv", "pickup")
    grille_low = max(lamp_low - rng.uniform(0.05, 0.2) * (2 if tall else 1), s.clearance + 0.2)
    style = look.grille_style
    if style == 0:
        grille = np.array([[-grille_half, grille_low], [grille_half, grille_low],
                           [grille_half, grille_top], [-grille_half, grille_top]])
    elif style == 1:
        grille = np.array([[-grille_half * 0.7, grille_low], [grille_half * 0.7, grille_low],
                           [grille_half, grille_top], [-grille_half, grille_top]])
    elif style == 2:
        mid = (grille_low + grille_top) / 2
        grille = np.array([[-grille_half * 0.6, grille_low], [grille_half * 0.6, grille_low],
                           [grille_half, mid], [grille_half * 0.8, grille_top],
                           [-grille_half * 0.8, grille_top], [-grille_half, mid]])
    else:
        grille = rounded_rectangle(-grille_half, grille_low, grille_half, grille_top,
                                   (grille_top - grille_low) * 0.4, 3)
    if look.grille[0] < 100 and rng.random() < 0.5:
        frame = grille * [1.06, 1.0] + [0, 0]
        frame[:, 1] = np.clip(frame[:, 1], grille_low - 0.015, grille_top + 0.015)
        decals.add(frame, (190, 192, 196), CHROME)
    decals.add(grille, look.grille, PLASTIC)
    bars = int(rng.integers(0, 4))
    for k in range(bars):
        z = grille_low + (grille_top - grille_low) * (k + 1) / (bars + 1)
        bar = np.array([[-grille_half * 0.9, z - 0.008], [grille_half * 0.9, z - 0.008],
                        [grille_half * 0.9, z + 0.008], [-grille_half * 0.9, z + 0.008]])
        decals.add(bar, (170, 172, 178), CHROME, 0.2)
    badge_z = (grille_low + grille_top) / 2
    badge = rounded_rectangle(-0.06, badge_z - 0.035, 0.06, badge_z + 0.035, 0.035, 4)
    decals.add(badge, (205, 207, 212), CHROME)
    badge_area = decals.add(badge * 2.2 + [0, -badge_z * 1.2])
    intake_high = min(grille_low - 0.03, s.nose - 0.02)
    intake_low = s.clearance + rng.uniform(0.14, 0.2)
    if intake_high - intake_low > 0.04:
        width = half * rng.uniform(0.45, 0.8)
        intake = np.array([[-width * 0.85, intake_low], [width * 0.85, intake_low],
                           [width, intake_high], [-width, intake_high]])
        decals.add(intake, look.trim, PLASTIC)
    if rng.random() < 0.45:
        plate_z = (s.clearance + 0.2 + s.nose) / 2
        plate = np.array([[-0.16, plate_z - 0.06], [0.16, plate_z - 0.06],
                          [0.16, plate_z + 0.06], [-0.16, plate_z + 0.06]])
        decals.add(plate, (228, 230, 226), EMISSIVE, 0.2)
    placed = decals.place(scene, group)
    parts["lamps"] = [placed[i] for i in lamps]
    parts["badge"] = placed[badge_area]


def _add_rear(scene, tub, shape, look, rng, group):
    """Tail lamps, plate, badges, reflectors, diffuser and exhausts on the rear chain."""
    s = shape
    decals = BandDecals(tub, "rear")
    kinds = tub.profile.kinds
    index = [i for i, k in enumerate(kinds) if k == "rear"]
    top_z = tub.profile.points[index[0], 1]
    t_top = _chain_param(tub.profile, "rear", [top_z - 0.05])[0]
    half = tub.half_arc(t_top)
    lamp_high = top_z - rng.uniform(0.02, 0.06)
    if s.style == "pickup" or (s.style in ("suv", "van", "wagon") and rng.random() < 0.5):
        lamp_low = lamp_high - rng.uniform(0.25, 0.4)
        lamp_inner = half * rng.uniform(0.8, 0.88)
    else:
        lamp_low = lamp_high - rng.uniform(0.12, 0.24)
        lamp_inner = half * rng.uniform(0.4, 0.65)
    lamp = _lamp_outline(int(rng.integers(0, 4)), lamp_inner, half * 1.03, lamp_low, lamp_high,
                         rng.uniform(-0.03, 0.03))
    for polygon in (lamp, _mirror(lamp)):
        decals.add(polygon, look.tail_lamp, LAMP)
        # A darker inner lens with a bright light strip, and a white reversing lamp.
        centre = polygon.mean(axis=0)
        decals.add(centre + (polygon - centre) * 0.7, _shade(look.tail_lamp, 0.6), LAMP)
        x_lo, x_hi = polygon[:, 0].min(), polygon[:, 0].max()
        strip = np.array([[x_lo + 0.02, centre[1] - 0.012], [x_hi - 0.02, centre[1] - 0.012],
                          [x_hi - 0.02, centre[1] + 0.012], [x_lo + 0.02, centre[1] + 0.012]])
        decals.add(strip, (255, 70, 70), EMISSIVE)
        inner = polygon[polygon[:, 0].argmin()] if polygon[0, 0] > 0 else polygon[polygon[:, 0].argmax()]
        reverse = np.array([[-0.05, -0.025], [0.05, -0.025], [0.05, 0.025], [-0.05, 0.025]])
        centre = centre * 0.6 + inner * 0.4
        decals.add(reverse + centre, (225, 225, 230), LAMP)
    if rng.random() < 0.4:
        bar = np.array([[-lamp_inner, lamp_high - 0.05], [lamp_inner, lamp_high - 0.05],
                        [lamp_inner, lamp_high - 0.025], [-lamp_inner, lamp_high - 0.025]])
        decals.add(bar, look.tail_lamp, LAMP, 0.2)
    plate_z = max(min(lamp_low - 0.1, top_z - 0.22), s.clearance + 0.3)
    plate = np.array([[-0.16, plate_z - 0.08], [0.16, plate_z - 0.08],
                      [0.16, plate_z + 0.08], [-0.16, plate_z + 0.08]])
    recess = plate * [1.25, 1.2] + [0, plate_z * -0.2]
    decals.add(recess, _shade(look.paint, 0.7), PAINT, 0.2)
    decals.add(plate, (232, 232, 226), EMISSIVE, 0.2)
    text = np.array([[-0.11, plate_z - 0.02], [0.11, plate_z - 0.02],
                     [0.11, plate_z + 0.03], [-0.11, plate_z + 0.03]])
    decals.add(text, (40, 50, 90), EMISSIVE, 0.2)
    low = s.clearance + rng.uniform(0.1, 0.16)
    diffuser = np.array([[-half * 0.8, s.clearance + 0.05], [half * 0.8, s.clearance + 0.05],
                         [half * 0.85, low], [-half * 0.85, low]])
    decals.add(diffuser, look.trim, PLASTIC)
    if rng.random() < 0.5:
        for side in (-1, 1) if rng.random() < 0.5 else (1,):
            x0 = side * half * 0.55
            pipe = rounded_rectangle(x0 - 0.05, low - 0.035, x0 + 0.05, low + 0.005, 0.02, 3)
            decals.add(pipe, (170, 170, 175), CHROME)
    for side in (-1, 1):  # bumper reflectors
        x0 = side * half * 0.82
        reflector = np.array([[x0 - 0.05, low + 0.03], [x0 + 0.05, low + 0.03],
                              [x0 + 0.05, low + 0.055], [x0 - 0.05, low + 0.055]])
        decals.add(reflector, (150, 20, 20), LAMP)
    # The maker's badge above the plate and the model's name beside it.
    badge_z = min(plate_z + 0.17, top_z - 0.06)
    badge = rounded_rectangle(-0.05, badge_z - 0.03, 0.05, badge_z + 0.03, 0.03, 4)
    decals.add(badge, (205, 207, 212), CHROME)
    letters_x = half * rng.uniform(0.3, 0.5) * (1 if rng.random() < 0.5 else -1)
    for k in range(int(rng.integers(3, 7))):
        x = letters_x + k * 0.035 * np.sign(letters_x)
        letter = np.array([[x - 0.012, badge_z - 0.02], [x + 0.012, badge_z - 0.02],
                           [x + 0.012, badge_z + 0.015], [x - 0.012, badge_z + 0.015]])
        decals.add(letter, (200, 202, 208), CHROME, 0.2)
    decals.place(scene, group)


def _shade(rgb, factor):
    """`rgb` darkened (factor < 1) or lightened, as an int tuple."""
    return tuple(int(np.clip(c * factor, 0, 255)) for c in rgb)


def _wheel_polygons(shape, look, spin):
    """One wheel (tyre, rim, spokes) centred on the origin, outer face towards +y, as a list
    of (points, colour, material); each polygon already faces outwards."""
    r, half_width = shape.wheel_radius, shape.tyre_width / 2
    segments = 18
    circle = arc((0, 0), r, 0, 360 - 360 / segments, segments)
    outer = np.stack([circle[:, 0], np.full(segments, half_width), circle[:, 1]], 1)
    inner = outer * (1, -1, 1)
    tyre = (26, 26, 28)
    following = np.roll(np.arange(segments), -1)
    # Ordered so the normals point away from the axle.
    treads = np.stack([outer, outer[following], inner[following], inner], axis=1)
    polygons = [(quad, tyre, RUBBER) for quad in treads]
    polygons.append((inner, tyre, RUBBER))
    polygons.append((outer[::-1], tyre, RUBBER))

    def disc(radius, lift, count=18):
        pts = arc((0, 0), radius, 0, 360 - 360 / count, count)
        return np.stack([pts[:, 0], np.full(count, half_width + lift), pts[:, 1]], 1)[::-1]

    rim_r = r * look.rim_share
    polygons.append((disc(rim_r * 1.04, 0.003), _shade(look.rim, 0.55), PLASTIC))
    polygons.append((disc(rim_r, 0.003), look.rim, look.rim_material))
    spokes = look.spokes
    spoke_half = 180.0 / spokes * (0.35 if spokes < 7 else 0.28)
    for k in range(spokes):
        a0 = spin + k * 360.0 / spokes + spoke_half
        a1 = spin + (k + 1) * 360.0 / spokes - spoke_half
        hole = np.concatenate([arc((0, 0), rim_r * 0.86, a0, a1, 4),
                               arc((0, 0), rim_r * 0.34, a1 - 4, a0 + 4, 2)])
        points = np.stack([hole[:, 0], np.full(len(hole), half_width + 0.006), hole[:, 1]], 1)
        polygons.append((points[::-1], look.extras.get("brake", (38, 38, 42)), MATTE))
    polygons.append((disc(rim_r * 0.2, 0.009, 10), _shade(look.rim, 0.8), look.rim_material))
    return polygons


def _add_wheel(scene, polygons, center, side):
    """Place a wheel from `_wheel_polygons` at `center` on `side` (+1 left, -1 right)."""
    group = scene.new_group()
    center = np.asarray(center, float)
    flip = np.array([1.0, float(side), 1.0])
    for points, color, material in polygons:
        placed = points * flip + center
        scene.add(placed if side > 0 else placed[::-1], color, material, group)
    return center


def _add_mirror(scene, shape, look, greenhouse_half, side):
    s = shape
    x0, x1 = s.cowl - 0.26, s.cowl - 0.08
    y0 = greenhouse_half(np.array([s.belt + 0.06]))[0]
    y1 = s.width / 2 + 0.17
    z0, z1 = s.belt + 0.04, s.belt + 0.19
    group = scene.new_group()
    color = look.paint if look.pillar != look.trim else look.trim
    box = np.array([[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0],
                    [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]])
    box[:, 1] *= side
    box[[1, 2, 5, 6], 0] -= 0.04  # a raked front face
    faces = [([0, 1, 2, 3], (0, 0, -1)), ([4, 5, 6, 7], (0, 0, 1)), ([0, 3, 7, 4], (-1, 0, 0)),
             ([1, 2, 6, 5], (1, 0, 0)), ([2, 3, 7, 6], (0, side, 0)), ([0, 1, 5, 4], (0, -side, 0))]
    for index, outward in faces:
        scene.add(oriented(box[index], outward), color, PAINT, group)
    glass = box[[0, 3, 7, 4]] * 0.9 + box[[0, 3, 7, 4]].mean(axis=0) * 0.1
    glass[:, 0] -= 0.004
    scene.add(oriented(glass, (-1, 0, 0)), (70, 80, 90), GLASS, group)


def build_car(scene, shape, look, rng, eye=None):
    """Add the polygons of one car to `scene`; returns a dict of part vertex arrays.

    With the camera position `eye` given, panels and decals it cannot see are left out (a
    camera far to one side never sees the other). The parts (`wheels`, `lamps`, `badge`) are
    what a camera can be framed on.
    """
    s = shape
    c = s.clearance
    tub_profile = _tub_profile(s)
    half = s.width / 2
    tuck, shoulder = rng.uniform(0.03, 0.07), rng.uniform(0.01, 0.05)
    z1 = c + 0.3 * (s.belt - c)
    z2 = c + 0.72 * (s.belt - c)
    tub_heights = np.array([c - 0.1, c, z1, z2, s.deck + 0.2])
    tub_widths = np.array([half - tuck, half - tuck, half, half, half - shoulder * 1.8])

    def tub_half(z):
        return np.interp(z, tub_heights, tub_widths)

    tub = Extrusion(tub_profile, tub_half)
    greenhouse_base = tub_half(np.array([s.belt]))[0] - s.shoulder_round - rng.uniform(0.0, 0.05)

    def greenhouse_half(z):
        share = np.clip((np.asarray(z) - s.belt) / (s.height - s.belt), 0, 1)
        return greenhouse_base - share * s.tumblehome

    green = Extrusion(_greenhouse_profile(s), greenhouse_half)
    parts = {}

    # Lower body bands: front and rear chains are single groups carrying the lamps.
    front_group, rear_group = scene.new_group(), scene.new_group()
    paint, dark = look.paint, look.trim
    for i, kind in enumerate(tub_profile.kinds):
        quads = tub.edge_quads(i)
        if kind == "front":
            group = front_group
        elif kind == "rear":
            group = rear_group
        else:
            group = scene.new_group()
        if kind == "cabin":
            # Under the greenhouse only the shoulders beside it are visible.
            for k in (0, 1, 3, 4):
                scene.add(quads[k], paint, PAINT, group)
            middle = quads[2]
            for corner in (0, 1):
                shoulder = middle.copy()
                if corner == 0:
                    shoulder[1, 1] = shoulder[2, 1] = -greenhouse_base
                else:
                    shoulder[0, 1] = shoulder[3, 1] = greenhouse_base
                scene.add(shoulder, paint, PAINT, group)
            continue
        for k, quad in enumerate(quads):
            if quad is None:
                continue
            if kind in ("bottom",):
                material, color = PLASTIC, (20, 20, 20)
            elif kind == "arch":
                material, color = PLASTIC, (16, 16, 16)
            elif kind == "bed" and k == 2:
                material, color = PLASTIC, (40, 40, 42)
            else:
                material, color = PAINT, paint
            scene.add(quad, color, material, group, cull=kind != "arch")
    if eye is None or eye[0] > 0:
        _add_front(scene, tub, s, look, rng, front_group, parts)
    if eye is None or eye[0] < 0:
        _add_rear(scene, tub, s, look, rng, rear_group)
    sides = [side for side in (-1, 1) if eye is None or side * eye[1] > -0.8]

    # Sides of the lower body and of the greenhouse, cut in slices for depth sorting. The
    # pieces are cut once in (x, z) and placed on whichever sides the camera can see.
    tub_side = _counter_clockwise(tub.inner)
    green_side = _counter_clockwise(green.inner)
    cuts = np.linspace(s.rear - 0.3, s.front + 0.3, int(np.ceil(s.length / 0.9)) + 2)
    strips = [(c - 1.0, z1), (z1, z2), (z2, s.height + 1)]
    decals = [(_counter_clockwise(polygon), color, material, on_greenhouse,
               polygon[:, 0].min(), polygon[:, 0].max())
              for polygon, color, material, on_greenhouse in _side_decals(s, look, rng, green_side,
                                                                        tub_side)
              if len(polygon) >= 3]
    slices = []
    for x0, x1 in zip(cuts[:-1], cuts[1:]):
        pieces = []
        piece = clip_polygon(tub_side, 0, x0, x1)
        if len(piece) >= 3:
            for k, (za, zb) in enumerate(strips):
                strip = clip_polygon(piece, 1, za, zb)
                if len(strip) >= 3:
                    clad = k == 0 and look.cladding
                    pieces.append((strip, dark if clad else paint, PLASTIC if clad else PAINT,
                                   tub_half, 0.0))
        glass_piece = clip_polygon(green_side, 0, x0, x1)
        if len(glass_piece) >= 3:
            pieces.append((glass_piece, look.pillar, PAINT, greenhouse_half, 0.0))
        for polygon, color, material, on_greenhouse, low, high in decals:
            if high <= x0 or low >= x1:
                continue
            clipped = clip_polygon(polygon, 0, x0, x1)
            if len(clipped) >= 3:
                pieces.append((clipped, color, material,
                               greenhouse_half if on_greenhouse else tub_half, 0.004))
        slices.append(pieces)
    for side in sides:
        for pieces in slices:
            group = scene.new_group()
            for polygon, color, material, widths, lift in pieces:
                # Counter-clockwise in (x, z) faces -y; the left side (+y) needs the reverse.
                polygon = polygon[::-1] if side > 0 else polygon
                scene.add(_to_side(polygon, side, widths, lift), color, material, group)

    # Greenhouse bands: windshield and rear glass with their pillars, roof.
    ws_group, rear_glass_group = scene.new_group(), scene.new_group()
    for i, kind in enumerate(green.profile.kinds):
        if kind == "base":
            continue
        quads = green.edge_quads(i)
        group = {"windshield": ws_group, "rear_glass": rear_glass_group}.get(kind)
        if group is None:
            group = scene.new_group()
        for k, quad in enumerate(quads):
            if kind in ("windshield", "rear_glass") and k == 2:
                if kind == "rear_glass" and s.style == "pickup":
                    scene.add(quad, paint, PAINT, group)
                    window = quad * 0.55 + quad.mean(axis=0) * 0.45
                    window[:, 2] += 0.05
                    scene.add(window, look.glass, GLASS, group)
                else:
                    scene.add(quad, look.glass, GLASS, group)
            elif kind == "roof":
                scene.add(quad, look.roof, PAINT, group)
            else:
                scene.add(quad, look.pillar, PAINT, group)

    # Wheel wells, wheels, mirrors.
    wheel_centers = []
    wheel = _wheel_polygons(s, look, rng.uniform(0, 360))
    for axle in (s.front_axle, s.rear_axle):
        for side in (-1, 1):
            well_group = scene.new_group(depth_bias=0.3)
            below = np.clip((c - s.wheel_radius) / s.arch_radius, -0.95, 0.0)
            start = np.degrees(np.pi - np.arcsin(below))
            well = arc((axle, s.wheel_radius), s.arch_radius * 0.99, start, 180 - start, 10)
            y = side * (half - 0.3)
            points = np.stack([well[:, 0], np.full(len(well), y), well[:, 1]], 1)
            scene.add(points, (12, 12, 12), MATTE, well_group, cull=False)
            y_wheel = side * (tub_half(np.array([s.wheel_radius]))[0] - 0.03 - s.tyre_width / 2)
            wheel_centers.append(_add_wheel(scene, wheel, (axle, y_wheel, s.wheel_radius), side))
    for side in (-1, 1):
        _add_mirror(scene, s, look, greenhouse_half, side)
    parts["wheels"] = wheel_centers
    return parts


def _side_extent(polygon, z):
    """(min x, max x) where the 2D polygon crosses height z."""
    low, high = polygon[:, 1].min(), polygon[:, 1].max()
    z = min(max(z, low + 1e-3 * (high - low)), high - 1e-3 * (high - low))
    a = polygon
    b = np.roll(polygon, -1, axis=0)
    crossing = (a[:, 1] - z) * (b[:, 1] - z) <= 0
    a, b = a[crossing], b[crossing]
    t = (z - a[:, 1]) / np.where(b[:, 1] == a[:, 1], 1.0, b[:, 1] - a[:, 1])
    xs = a[:, 0] + t * (b[:, 0] - a[:, 0])
    return float(xs.min()), float(xs.max())


def _side_decals(shape, look, rng, green_side, tub_side):
    """Windows, door seams, handles and lamp wraps as (x, z) polygons on a side."""
    s = shape
    c = s.clearance
    decals = []
    frame = rng.uniform(0.03, 0.055)
    window = _inset_uniform(green_side, frame)
    window = clip_polygon(window, 1, s.belt + rng.uniform(0.015, 0.04), s.height)
    span = s.cowl - s.rear_base
    if s.style == "pickup":
        pillars = [(s.rear_base + span * rng.uniform(0.45, 0.5), rng.uniform(0.07, 0.1))]
    elif s.doors == 2:
        pillars = [(s.rear_base + span * rng.uniform(0.25, 0.35), rng.uniform(0.05, 0.12))]
    else:
        pillars = [(s.rear_base + span * rng.uniform(0.5, 0.56), rng.uniform(0.06, 0.1))]
    if s.style in ("suv", "wagon", "van"):
        pillars.append((s.rear_base + span * rng.uniform(0.2, 0.28), rng.uniform(0.08, 0.18)))
    edges = sorted([x - w / 2 for x, w in pillars] + [x + w / 2 for x, w in pillars])
    bounds = [-10.0] + edges + [10.0]
    for lo, hi in zip(bounds[0::2], bounds[1::2]):
        piece = clip_polygon(window, 0, lo, hi)
        if len(piece) >= 3:
            decals.append((piece, look.glass, GLASS, True))
    if look.pillar == look.trim or rng.random() < 0.5:
        for x, w in pillars[:1]:
            pillar = np.array([[x - w / 2, s.belt], [x + w / 2, s.belt],
                               [x + w / 2 - 0.03, s.height], [x - w / 2 - 0.03, s.height]])
            pillar = clip_polygon(pillar, 1, s.belt, s.height - s.roof_round - 0.03)
            decals.append((pillar, look.trim, PLASTIC, True))
    trim = look.extras.get("window_trim")
    if trim is not None:  # a chrome strip under the side windows
        x_low, x_high = _side_extent(window, s.belt + 0.05)
        decals.append((np.array([[x_low, s.belt + 0.005], [x_high, s.belt + 0.005],
                                 [x_high, s.belt + 0.025], [x_low, s.belt + 0.025]]),
                       trim, CHROME, True))

    seam = (20, 20, 22)
    front_door = s.front_axle - s.arch_radius - rng.uniform(0.05, 0.15)
    seams = [front_door, pillars[0][0]]
    if s.doors == 4 and s.style != "pickup":
        seams.append(s.rear_axle + s.arch_radius + rng.uniform(0.0, 0.1))
    elif s.style == "pickup":
        seams.append(pillars[0][0] - (front_door - pillars[0][0]) * 0.7)
    z_low, z_high = c + 0.07, s.belt - 0.01
    for x in seams:
        lean = rng.uniform(-0.04, 0.04)
        decals.append((np.array([[x - 0.006, z_low], [x + 0.006, z_low],
                                 [x + 0.006 + lean, z_high], [x - 0.006 + lean, z_high]]),
                       seam, MATTE, False))
    for x in seams[1:]:
        hx = x - 0.17
        handle_z = s.belt - 0.09
        decals.append((rounded_rectangle(hx - 0.065, handle_z - 0.014, hx + 0.065,
                                         handle_z + 0.014, 0.012, 2),
                       _shade(look.paint, 0.6), PAINT, False))
    if s.style == "pickup":
        gap = s.rear_base - 0.03
        decals.append((np.array([[gap - 0.008, c + 0.05], [gap + 0.008, c + 0.05],
                                 [gap + 0.008, s.belt], [gap - 0.008, s.belt]]),
                       seam, MATTE, False))
    # Lamps wrapping round the corners, clipped to where the side panel ends at their height.
    lamp_z = s.hood_front - rng.uniform(0.06, 0.1)
    x_front = _side_extent(tub_side, lamp_z)[1]
    length, tall = rng.uniform(0.18, 0.45), rng.uniform(0.08, 0.14)
    decals.append((clip_polygon(np.array([
        [x_front - length, lamp_z - tall * 0.3], [x_front + 0.1, lamp_z - tall * 0.6],
        [x_front + 0.1, lamp_z + tall * 0.4], [x_front - length * 0.7, lamp_z + tall * 0.4]]),
        0, -9, x_front - 0.01), look.headlamp, LAMP, False))
    tail_z = (s.deck if s.style in ("sedan", "coupe") else s.belt) - 0.1
    x_rear = _side_extent(tub_side, tail_z)[0]
    length, tall = rng.uniform(0.18, 0.5), rng.uniform(0.1, 0.16)
    tail = clip_polygon(np.array([
        [x_rear - 0.1, tail_z - tall * 0.55], [x_rear + length, tail_z - tall * 0.4],
        [x_rear + length * 0.85, tail_z + tall * 0.45], [x_rear - 0.1, tail_z + tall * 0.45]]),
        0, x_rear + 0.01, 9)
    decals.append((tail, look.tail_lamp, LAMP, False))
    centre = tail.mean(axis=0)
    decals.append((centre + (tail - centre) * [0.8, 0.45], (255, 70, 70), EMISSIVE, False))
    # Side marker lamps near the bumpers: amber at the front, red at the rear.
    marker_z = s.clearance + (s.nose - s.clearance) * 0.75
    front_end = _side_extent(tub_side, marker_z)[1]
    rear_end = _side_extent(tub_side, marker_z)[0]
    for x, color in ((front_end - 0.12, (235, 140, 25)), (rear_end + 0.12, (190, 25, 25))):
        decals.append((rounded_rectangle(x - 0.05, marker_z - 0.018, x + 0.05, marker_z + 0.018,
                                         0.015, 2), color, LAMP, False))
    if look.cladding:
        for axle in (s.front_axle, s.rear_axle):
            ring = np.concatenate([arc((axle, s.wheel_radius), s.arch_radius + 0.07, 200, -20, 10),
                                   arc((axle, s.wheel_radius), s.arch_radius - 0.01, -20, 200, 10)])
            decals.append((ring, look.trim, PLASTIC, False))
    return decals


def _counter_clockwise(polygon):
    polygon = np.asarray(polygon, float)
    return polygon if signed_area(polygon) > 0 else polygon[::-1]


def _inset_uniform(polygon, distance):
    polygon = polygon if signed_area(polygon) > 0 else polygon[::-1]
    return inset_polygon(polygon, np.full(len(polygon), distance))

