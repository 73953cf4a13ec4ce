"""The synthetic dataset: layout, names, labels, determinism, bad options, the contact sheet."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cargen.datasets.car_connection import parse_name
from cargen.synthetic.car_photo import render_car_photo
from cargen.synthetic.render_car import STYLES
from cargen.synthetic.render_mesh import look_at, orbit_eye
from cargen.synthetic.synthetic_dataset import render_picture
from cargen.views import CAR_VIEWS, VIEW_AZIMUTH_DEGREES, VIEWS

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "data/synthesize.py"
TINY = ["--per-view", "2", "--validation-per-view", "1", "--pictures", "12", "--size", "64x48"]


def synthesize(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(Path(root).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "synthetic"
    result = synthesize(out, *TINY, "--seed", "5", "--workers", "2")
    assert result.returncode == 0, result.stderr
    return out, result


def test_layout_and_counts(dataset):
    out, result = dataset
    for split, count in (("train", 2), ("validation", 1)):
        assert sorted(p.name for p in (out / split).iterdir()) == sorted(VIEWS)
        for view in VIEWS:
            assert len(list((out / split / view).glob("*.jpg"))) == count
    assert len(list((out / "pictures").glob("*.jpg"))) == 12
    assert "wrote 39 pictures" in result.stdout
    info = json.loads((out / "synthesis.json").read_text())
    assert info["options"]["seed"] == 5 and info["options"]["width"] == 64
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no work folders


def test_pictures_are_jpegs_of_the_requested_size(dataset):
    out, _ = dataset
    for path in list((out / "train" / "front").glob("*.jpg")) + list((out / "pictures").glob("*")):
        with Image.open(path) as image:
            assert image.format == "JPEG" and image.size == (64, 48)
            assert np.asarray(image).std() > 3  # not a blank picture


def test_picture_names_parse_like_the_car_connection(dataset):
    out, _ = dataset
    for path in (out / "pictures").glob("*.jpg"):
        record = parse_name(path.name)
        assert len(record) == 17 and len(record["id"]) == 3
        assert path.stem.count("_") == 16
        assert record["body_style"] in {"4dr", "2dr", "SUV", "Pickup", "Van"}
        assert 2010 <= int(record["year"]) <= 2020


def test_labels_csv_beside_the_pictures(dataset):
    out, _ = dataset
    with open(out / "pictures_labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["file"] for row in rows} == {p.name for p in (out / "pictures").iterdir()}
    assert all(row["view"] in VIEWS for row in rows)
    assert not list((out / "pictures").glob("*.csv"))


def test_same_seed_same_bytes_whatever_the_workers(dataset, tmp_path):
    out, _ = dataset
    again = tmp_path / "again"
    result = synthesize(again, *TINY, "--seed", "5", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert files(again) == files(out)
    other = tmp_path / "other_seed"
    assert synthesize(other, *TINY, "--seed", "6", "--workers", "1").returncode == 0
    assert files(other)["train/front/front_00000.jpg"] != files(out)["train/front/front_00000.jpg"]


@pytest.mark.parametrize("args, message", [
    (["--size", "0x240"], "--size"),
    (["--size", "big"], "WIDTHxHEIGHT"),
    (["--per-view", "-1"], "--per-view must be 0 or more"),
    (["--pictures", "-3"], "--pictures must be 0 or more"),
    (["--views", "front,top"], "unknown view 'top'"),
    (["--workers", "0"], "--workers"),
    (["--quality", "101"], "--quality"),
    (["--portrait", "1.5"], "--portrait must be 0 to 1"),
])
def test_bad_options_give_one_line_errors(tmp_path, args, message):
    result = synthesize(tmp_path / "out", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_portrait_share_draws_upright_pictures_and_leaves_the_rest_alone(dataset, tmp_path):
    out, _ = dataset
    upright = tmp_path / "upright"
    result = synthesize(upright, *TINY, "--seed", "5", "--workers", "1", "--per-view", "12",
                        "--validation-per-view", "0", "--portrait", "0.5")
    assert result.returncode == 0, result.stderr
    sizes = {path.name: Image.open(path).size for path in (upright / "train").rglob("*.jpg")}
    assert set(sizes.values()) == {(64, 48), (48, 64)}
    assert 0.2 < sum(size == (48, 64) for size in sizes.values()) / len(sizes) < 0.8
    assert {Image.open(p).size for p in (upright / "pictures").glob("*.jpg")} == {(64, 48)}
    for path in (out / "train").rglob("*.jpg"):  # the landscape ones are the same pictures
        twin = upright / path.relative_to(out)
        if sizes[path.name] == (64, 48):
            assert twin.read_bytes() == path.read_bytes()
    info = json.loads((upright / "synthesis.json").read_text())
    assert info["options"]["portrait"] == 0.5


def test_an_existing_folder_is_never_mixed(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "holiday.jpg").write_bytes(b"precious")
    result = synthesize(mine, *TINY)
    assert result.returncode == 2 and "--overwrite" in result.stderr
    result = synthesize(mine, *TINY, "--overwrite")
    assert result.returncode == 2 and "not a synthetic dataset" in result.stderr
    assert [p.name for p in mine.iterdir()] == ["holiday.jpg"]

    out = tmp_path / "synthetic"
    small = ["--per-view", "1", "--validation-per-view", "0", "--pictures", "1", "--size", "32x24"]
    assert synthesize(out, *small, "--views", "front").returncode == 0
    assert synthesize(out, *small, "--views", "front").returncode == 2
    result = synthesize(out, *small, "--views", "rear", "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (out / "train").iterdir()) == ["rear"]


def test_a_killed_run_leaves_no_half_dataset_and_reruns(tmp_path):
    out = tmp_path / "synthetic"
    process = subprocess.Popen(
        [sys.executable, SCRIPT, str(out), "--per-view", "40", "--pictures", "40",
         "--size", "48x36", "--workers", "2"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and process.poll() is None:
        work = list(tmp_path.glob(".synthetic.partial-*"))
        if work and any(work[0].rglob("*.jpg")):
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not out.exists()
    assert "Traceback" not in stderr
    result = synthesize(out, *TINY)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["synthetic"]  # the old work folder is gone


def test_contact_sheet(tmp_path):
    sheet = tmp_path / "sheet.png"
    result = synthesize("--contact-sheet", sheet, "--sheet-columns", "2", "--size", "64x48")
    assert result.returncode == 0, result.stderr
    with Image.open(sheet) as image:
        assert image.format == "PNG"
        assert image.height >= 9 * 48 * 160 / 64 and image.width > 2 * 160


def test_every_view_and_style_renders():
    for i, view in enumerate(VIEWS):
        image = render_picture(view, (1, i), 64, 48)
        assert image.shape == (48, 64, 3) and image.dtype == np.uint8
    for i, style in enumerate(STYLES):
        image = render_car_photo(np.random.default_rng(i), "front_left", 64, 48, style=style)
        assert image.std() > 5


def test_view_convention_of_the_camera():
    """At each view's azimuth the camera sees the car as README says: in `left` and
    `front_left` the front points to the image left, `rear_left` shows the left side."""
    front, rear = np.array([2.0, 0.0, 0.5]), np.array([-2.0, 0.0, 0.5])
    left_side, right_side = np.array([0.0, 0.9, 0.5]), np.array([0.0, -0.9, 0.5])
    for view in CAR_VIEWS:
        eye = orbit_eye(VIEW_AZIMUTH_DEGREES[view], 10.0, 8.0)
        rotation = look_at(eye, (0.0, 0.0, 0.0))

        def image_x(point):
            return (rotation @ (point - eye))[0]

        def depth(point):
            return (rotation @ (point - eye))[2]

        if view in ("left", "front_left", "rear_left"):
            assert image_x(front) < image_x(rear), view
            assert depth(left_side) < depth(right_side), view
        if view in ("right", "front_right", "rear_right"):
            assert image_x(front) > image_x(rear), view
            assert depth(right_side) < depth(left_side), view
        if view.startswith("front"):
            assert depth(front) < depth(rear), view
        if view.startswith("rear"):
            assert depth(rear) < depth(front), view
