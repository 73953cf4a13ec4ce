"""The viewpoint names and the mirror map that every cargen script shares.

Views name the car's own sides. `left` is a side profile with the car's front pointing to the
image left; `front_left` a front three-quarter view with the front toward the image left;
`rear_left` a rear three-quarter view showing the car's left side. The `_right` views are their
mirror images. `other` is everything that is not a whole car seen from outside.
"""

VIEWS = (
    "front",
    "front_left",
    "front_right",
    "left",
    "right",
    "rear",
    "rear_left",
    "rear_right",
    "other",
)

CAR_VIEWS = VIEWS[:-1]

MIRROR = {
    "front": "front",
    "front_left": "front_right",
    "front_right": "front_left",
    "left": "right",
    "right": "left",
    "rear": "rear",
    "rear_left": "rear_right",
    "rear_right": "rear_left",
    "other": "other",
}

# Camera azimuth at the centre of each car view, in degrees, measured around the car:
# 0 looks at the car's left side (front toward image left), 90 at its front, 180 at its right
# side, 270 at its rear.
VIEW_AZIMUTH_DEGREES = {
    "left": 0.0,
    "front_left": 45.0,
    "front": 90.0,
    "front_right": 135.0,
    "right": 180.0,
    "rear_right": 225.0,
    "rear": 270.0,
    "rear_left": 315.0,
}


def mirror_view(view):
    """Return the view a horizontally flipped image of `view` shows."""
    try:
        return MIRROR[view]
    except KeyError:
        raise ValueError(f"unknown view {view!r}; valid views: {', '.join(VIEWS)}") from None


def mirror_permutation(classes):
    """Index map for flipping: position i of a flipped image's label is classes[result[i]].

    `classes` is an ordered list of view names (a model's class list). A view whose mirror image
    is not among `classes` maps to itself, so the result is always a permutation.
    """
    index = {view: i for i, view in enumerate(classes)}
    return [index.get(mirror_view(view), i) for i, view in enumerate(classes)]


def check_view(name):
    """Return `name` if it is a view, else raise ValueError listing the valid ones."""
    if name not in VIEWS:
        raise ValueError(f"unknown view {name!r}; valid views: {', '.join(VIEWS)}")
    return name
