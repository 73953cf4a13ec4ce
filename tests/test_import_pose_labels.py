"""Importing Stanford Cars pose annotations: azimuth -> view at every centre and bin edge, a
pickle that refuses anything but plain data, and the labelled folders the script writes."""

import csv
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cargen.cli import UsageError
from cargen.datasets.pose_labels import (
    RefusedPickleError,
    azimuth_to_view,
    load_plain_pickle,
    plan_import,
)
from cargen.views import CAR_VIEWS, VIEW_AZIMUTH_DEGREES

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "data/import_pose_labels.py"

# The first entry of the published train_anno.pkl, as Python 2 wrote it (protocol 0).
PYTHON2_PICKLE = (b"(dp0\nS'00235.jpg'\np1\n(dp2\nS'distance'\np3\nF0.95\nsS'azimuth'\np4\n"
                  b"F1.1842774270644412\nsS'model_id'\np5\nS'8b722405131e569db927782fc69a1fbb'\n"
                  b"p6\nss.")


def run_script(*args):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


# --- azimuth -> view --------------------------------------------------------------------------

def test_annotation_convention_matches_our_views():
    assert azimuth_to_view(0.0)[0] == "left"  # side view, front toward the image left
    assert azimuth_to_view(math.pi / 4)[0] == "front_left"
    assert azimuth_to_view(math.pi / 2)[0] == "front"
    assert azimuth_to_view(math.pi)[0] == "right"
    assert azimuth_to_view(3 * math.pi / 2)[0] == "rear"
    assert azimuth_to_view(7 * math.pi / 4)[0] == "rear_left"


@pytest.mark.parametrize("view", CAR_VIEWS)
def test_every_view_centre_and_its_bin_edges(view):
    centre = VIEW_AZIMUTH_DEGREES[view]
    for turns in (-1, 0, 1):  # the same direction written as a negative or > 2 pi angle
        base = centre + 360 * turns
        assert azimuth_to_view(math.radians(base)) == (view, pytest.approx(0, abs=1e-9))
        for side in (-1, 1):
            kept = azimuth_to_view(math.radians(base + side * 15.0))
            assert kept == (view, pytest.approx(15.0)), "an offset of exactly 15 is kept"
            assert azimuth_to_view(math.radians(base + side * 15.001))[0] is None
            assert azimuth_to_view(math.radians(base + side * 10.0), max_offset=10)[0] == view
            assert azimuth_to_view(math.radians(base + side * 10.01), max_offset=10)[0] is None


def test_widest_bins_split_halfway_and_wrap_at_zero():
    assert azimuth_to_view(math.radians(22.4), 22.5)[0] == "left"
    assert azimuth_to_view(math.radians(22.6), 22.5)[0] == "front_left"
    assert azimuth_to_view(math.radians(22.5), 22.5)[0] == "left"  # a tie: smaller azimuth
    assert azimuth_to_view(math.radians(337.6), 22.5)[0] == "left"
    assert azimuth_to_view(math.radians(-22.4), 22.5)[0] == "left"
    assert azimuth_to_view(2 * math.pi - 1e-12)[0] == "left"


# --- the restricted unpickler -----------------------------------------------------------------

class RunsACommand:
    def __reduce__(self):
        return (os.system, ("touch pwned_marker",))


def test_plain_python2_pickle_loads(tmp_path):
    path = tmp_path / "train_anno.pkl"
    path.write_bytes(PYTHON2_PICKLE)
    data = load_plain_pickle(path)
    assert data == {"00235.jpg": {"distance": 0.95, "azimuth": 1.1842774270644412,
                                  "model_id": "8b722405131e569db927782fc69a1fbb"}}
    plain = {"a.jpg": {"azimuth": 1.0, "tags": ["x", 2, None, True]}}
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        path.write_bytes(pickle.dumps(plain, protocol=protocol))
        assert load_plain_pickle(path) == plain


def test_pickle_carrying_a_callable_is_refused_before_it_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"00001.jpg": {"azimuth": RunsACommand()}}, protocol=0))
    with pytest.raises(RefusedPickleError, match=r"evil.pkl: refused: it asks to load "
                                                 r"(posix|os|nt)\.system; only plain dicts"):
        load_plain_pickle(path)
    assert not (tmp_path / "pwned_marker").exists()


@pytest.mark.parametrize("value, what", [
    ({1, 2}, "set"), (b"raw", "bytes"), ((1, 2), "tuple"), (1j, "complex"),
    (np.float64(1.5), "numpy"), (Path("x"), "Path"),
])
def test_anything_but_plain_data_is_refused(tmp_path, value, what):
    path = tmp_path / "odd.pkl"
    path.write_bytes(pickle.dumps({"a.jpg": {"azimuth": value}}))
    with pytest.raises(RefusedPickleError, match="odd.pkl: refused"):
        load_plain_pickle(path)


def test_shared_and_self_referencing_lists_are_checked_once(tmp_path):
    loop = [1.0]
    loop.append(loop)
    nested = [0.0]
    for _ in range(60):  # 2**60 paths if every reference were followed
        nested = [nested, nested]
    path = tmp_path / "shared.pkl"
    path.write_bytes(pickle.dumps({"a.jpg": {"azimuth": 0.5, "loop": loop, "deep": nested}}))
    assert load_plain_pickle(path)["a.jpg"]["azimuth"] == 0.5


def test_not_a_pickle_is_a_clear_error(tmp_path):
    path = tmp_path / "anno.pkl"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(UsageError, match="anno.pkl: not a readable pickle"):
        load_plain_pickle(path)


# --- the script -------------------------------------------------------------------------------

def photos_and_annotations(tmp_path, per_view=10):
    """Red-ish photos: `per_view` near each view centre, plus off-centre, missing and bad ones."""
    images = tmp_path / "cars_train"
    images.mkdir()
    annotations = {}
    rng = np.random.default_rng(0)
    number = 0
    for view, centre in VIEW_AZIMUTH_DEGREES.items():
        for _ in range(per_view):
            number += 1
            name = f"{number:05d}.jpg"
            Image.fromarray(np.full((24, 32, 3), (220, 30, 10), np.uint8)).save(images / name)
            azimuth = math.radians(centre + rng.uniform(-14.9, 14.9))
            annotations[name] = {"azimuth": azimuth, "elevation": 0.1, "model_id": "m"}
    for offset in (20.0, -16.0, 22.5):
        number += 1
        name = f"{number:05d}.jpg"
        Image.fromarray(np.zeros((24, 32, 3), np.uint8)).save(images / name)
        annotations[name] = {"azimuth": math.radians(90 + offset)}
    annotations["99998.jpg"] = {"azimuth": 0.0}  # listed, but no file
    annotations["../outside.jpg"] = {"azimuth": 0.0}
    annotations["99999.jpg"] = {"elevation": 0.2}  # no azimuth
    pickle_path = tmp_path / "train_anno.pkl"
    pickle_path.write_bytes(pickle.dumps(annotations, protocol=0))
    return images, pickle_path


def test_builds_train_and_validation_view_folders(tmp_path):
    images, annotations = photos_and_annotations(tmp_path)
    out = tmp_path / "labelled"
    result = run_script("--input", images, "--annotations", annotations, "--out", out,
                        "--validation-split", "0.2")
    assert result.returncode == 0, result.stderr
    for view in CAR_VIEWS:
        assert len(os.listdir(out / "train" / view)) == 8
        assert len(os.listdir(out / "validation" / view)) == 2
    assert "3 more than 15 degrees from a view centre" in result.stdout
    assert "1 listed but missing" in result.stdout and "2 bad entries" in result.stdout
    assert "80 hard links" in result.stdout or "80 copies" in result.stdout
    with open(out / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 80 and all(float(row["offset_degrees"]) <= 15 for row in rows)
    assert all((out / row["file"]).is_file() for row in rows)
    assert rows[0]["file"].split("/")[2].startswith("cars_train_")

    again = run_script("--input", images, "--annotations", annotations, "--out", out,
                       "--validation-split", "0.2")
    assert again.returncode == 0 and "80 were already there" in again.stdout

    other = run_script("--input", images, "--annotations", annotations, "--out", out)
    assert other.returncode == 2 and "other options (val_share)" in other.stderr


def test_swap_rb_and_two_sets_with_the_same_file_names(tmp_path):
    first = tmp_path / "first"
    first.mkdir()
    images, annotations = photos_and_annotations(first, per_view=1)
    second = tmp_path / "second"
    second.mkdir()
    images_2, annotations_2 = photos_and_annotations(second, per_view=1)
    images_2 = images_2.rename(second / "cars_test")
    out = tmp_path / "labelled"
    result = run_script("--input", images, "--annotations", annotations, "--input", images_2,
                        "--annotations", annotations_2, "--out", out, "--swap-rb",
                        "--validation-split", "0")
    assert result.returncode == 0, result.stderr
    front = sorted(os.listdir(out / "train" / "front"))
    assert front == ["cars_test_00003.jpg", "cars_train_00003.jpg"]
    pixels = np.asarray(Image.open(out / "train" / "front" / front[0]), float)
    red, _, blue = pixels.mean((0, 1))
    assert blue > 180 and red < 60, "red and blue are swapped"


def test_malicious_pickle_through_the_script(tmp_path):
    images = tmp_path / "cars_train"
    images.mkdir()
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"00001.jpg": RunsACommand()}))
    result = run_script("--input", images, "--annotations", evil, "--out", tmp_path / "out")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "refused" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists() and not (REPO / "pwned_marker").exists()


def test_split_is_stratified_seeded_and_keeps_one_on_each_side(tmp_path):
    images = tmp_path / "cars_train"
    images.mkdir()
    annotations = {}
    for view, count in [("front", 3), ("rear", 2), ("left", 1)]:
        for index in range(count):
            name = f"{view}_{index}.jpg"
            (images / name).write_bytes(b"jpg")
            annotations[name] = {"azimuth": math.radians(VIEW_AZIMUTH_DEGREES[view])}
    plan = plan_import([(images, annotations)], val_share=0.15, seed=3)
    splits = {}
    for picture in plan.pictures:
        splits.setdefault(picture.view, []).append(picture.split)
    assert sorted(splits["front"]) == ["train", "train", "validation"]
    assert sorted(splits["rear"]) == ["train", "validation"]
    assert splits["left"] == ["train"]
    again = plan_import([(images, annotations)], val_share=0.15, seed=3)
    assert [p.destination for p in again.pictures] == [p.destination for p in plan.pictures]

    other = tmp_path / "elsewhere" / "cars_train"
    other.mkdir(parents=True)
    with pytest.raises(UsageError, match="both named 'cars_train'"):
        plan_import([(images, annotations), (other, {})])


def test_an_import_killed_midway_is_completed_by_running_it_again(tmp_path, monkeypatch):
    images, annotations = photos_and_annotations(tmp_path, per_view=2)
    out = tmp_path / "labelled"
    arguments = ("--input", images, "--annotations", annotations, "--out", out, "--swap-rb")
    monkeypatch.setenv("CARGEN_KILL_AT", "labelled-set-file:5")
    killed = run_script(*arguments)
    assert killed.returncode == -9
    assert len(list(out.glob("*/*/*.jpg"))) == 5 and not (out / "labels.csv").exists()
    monkeypatch.delenv("CARGEN_KILL_AT")
    again = run_script(*arguments)
    assert again.returncode == 0, again.stderr
    assert "11 re-encoded with red/blue swapped; 5 were already there" in again.stdout
    with open(out / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(row["file"] for row in rows) == sorted(
        str(path.relative_to(out)) for path in out.glob("*/*/*.jpg"))
    assert len(rows) == 16
