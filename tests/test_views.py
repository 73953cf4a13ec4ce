"""The view names and the mirror map."""

import pytest

from cargen.views import CAR_VIEWS, MIRROR, VIEWS, check_view, mirror_permutation, mirror_view


def test_nine_views_in_order():
    assert VIEWS == ("front", "front_left", "front_right", "left", "right", "rear",
                     "rear_left", "rear_right", "other")
    assert "other" not in CAR_VIEWS and len(CAR_VIEWS) == 8


def test_mirror_map_covers_every_view_and_is_an_involution():
    assert set(MIRROR) == set(VIEWS) == set(MIRROR.values())
    for view in VIEWS:
        assert mirror_view(mirror_view(view)) == view


def test_mirror_pairs():
    assert mirror_view("left") == "right"
    assert mirror_view("front_left") == "front_right"
    assert mirror_view("rear_right") == "rear_left"
    for view in ("front", "rear", "other"):
        assert mirror_view(view) == view


def test_mirror_permutation_handles_missing_partner():
    classes = ["front", "front_left", "left", "rear"]  # no front_right, no right
    assert mirror_permutation(classes) == [0, 1, 2, 3]
    classes = ["front_left", "front_right", "left", "right"]
    assert mirror_permutation(classes) == [1, 0, 3, 2]


def test_unknown_view_names_the_valid_ones():
    with pytest.raises(ValueError, match="valid views: front, front_left"):
        check_view("side")
    with pytest.raises(ValueError):
        mirror_view("top")
