"""Preparing The Car Connection folder: names parsed, duplicates grouped, bad files set aside,
nothing lost when the script is killed at any moment."""

import csv
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from cargen.datasets.car_connection import COLUMNS, FIELDS, CarNameError, format_name, parse_name
from cargen.datasets.image_hashes import (
    colour_difference,
    group_duplicates,
    hamming,
    hash_image,
    near_pairs,
)

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "data/prepare_car_connection.py"


def run_script(*args, env=None):
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env=env, timeout=120)


def scene(seed, size=(64, 48)):
    """A small random picture: shapes on a light background with a little noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(150, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(5):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [x, y, x + int(rng.integers(8, width // 2)), y + int(rng.integers(6, height // 2))]
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(
            box, fill=tuple(int(c) for c in rng.integers(0, 256, 3)))
    noisy = np.asarray(image, np.int16) + rng.integers(-4, 5, (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def car_name(make="Acura", model="ILX", year=2013, body="4dr", id_="MQf", mileage="39"):
    return f"{make}_{model}_{year}_28_16_110_15_4_70_55_179_{mileage}_FWD_5_4_{body}_{id_}.jpg"


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def digest(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# --- file names -------------------------------------------------------------------------------

def test_parses_the_real_examples():
    record = parse_name("Acura_ILX_2013_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg")
    assert list(record) == list(FIELDS) + ["id"] and len(FIELDS) == 16
    assert record["make"] == "Acura" and record["model"] == "ILX" and record["year"] == "2013"
    assert record["msrp"] == "28" and record["drivetrain"] == "FWD"
    assert record["passenger_doors"] == "4" and record["body_style"] == "4dr"
    assert record["id"] == "MQf"
    record = parse_name("Alfa Romeo_4C_2015_55_17_230_17_4_73_46_163_28_RWD_2_2_2dr_vEk.jpg")
    assert record["make"] == "Alfa Romeo" and record["model"] == "4C"


def test_hyphens_spaces_and_nan_fields():
    name = "Mercedes-Benz_C-Class_2015_nan_nan_241_2.0_4_71_56_184_nan_RWD_5_4_4dr_abC.JPG"
    record = parse_name(name)
    assert record["make"] == "Mercedes-Benz" and record["model"] == "C-Class"
    assert record["msrp"] == "" and record["front_wheel_size"] == "" and record["gas_mileage"] == ""
    assert record["displacement"] == "2.0"
    assert format_name(record, ".JPG") == name
    assert parse_name("Land Rover_Range Rover Sport_2014_nan_nan_nan_nan_nan_nan_nan_nan_nan_"
                      "nan_nan_nan_nan_Xy1.jpg")["year"] == "2014"


@pytest.mark.parametrize("name, reason", [
    ("Acura_ILX_2013_28_16_110_15_4_70_55_179_39_FWD_5_4_MQf.jpg", "has 16 fields"),
    ("Acura_ILX_LX_2013_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg", "has 18 fields"),
    ("IMG_1234.jpg", "has 2 fields"),
    ("Acura_ILX_20x3_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg",
     "year '20x3' is not a number"),
    ("Acura_ILX_13_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg",
     "year '13' is not four digits"),
    ("Acura_ILX_2013_abc_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg",
     "msrp 'abc' is not a number"),
    ("nan_ILX_2013_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf.jpg", "make is missing"),
    ("Acura_ILX_2013_28_16_110_15_4_70_55_179_39_FWD_5_4_4dr_MQf (1).jpg", "id 'MQf (1)'"),
])
def test_names_that_do_not_parse_say_why(name, reason):
    with pytest.raises(CarNameError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        parse_name(name)


# --- duplicates -------------------------------------------------------------------------------

def test_near_pairs_finds_exactly_the_close_pairs():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 2**63, 2000, dtype=np.uint64) * np.uint64(2)
    for i in range(0, 2000, 5):  # plant copies with 0..7 flipped bits
        flipped = int(hashes[i])
        for bit in rng.choice(64, int(rng.integers(0, 8)), replace=False):
            flipped ^= 1 << int(bit)
        hashes[(i + 2) % 2000] = flipped
    distances = np.bitwise_count(hashes[:, None] ^ hashes[None, :])
    upper = np.triu_indices(2000, 1)
    for threshold in (0, 3, 6):
        first, second, distance = near_pairs(hashes, threshold)
        close = distances[upper] <= threshold
        assert set(zip(first.tolist(), second.tolist())) == set(
            zip(upper[0][close].tolist(), upper[1][close].tolist()))
        assert (distance <= threshold).all()


def test_duplicate_groups(tmp_path):
    a, b = scene(1, (96, 72)), scene(2, (96, 72))
    a.save(tmp_path / "a.jpg", quality=95)
    (tmp_path / "a_copy.jpg").write_bytes((tmp_path / "a.jpg").read_bytes())
    a.save(tmp_path / "a_q60.jpg", quality=60)
    a.resize((48, 36)).save(tmp_path / "a_small.jpg", quality=90)
    b.save(tmp_path / "b.jpg", quality=95)
    b.save(tmp_path / "b_q50.jpg", quality=50)
    scene(3, (96, 72)).save(tmp_path / "c.jpg")
    names = ["a_small.jpg", "b_q50.jpg", "a_q60.jpg", "c.jpg", "a_copy.jpg", "b.jpg", "a.jpg"]
    hashes = [hash_image(tmp_path / name) for name in names]

    groups = group_duplicates(hashes, threshold=6)
    found = {frozenset(names[i] for i in g.members): g for g in groups}
    assert set(found) == {frozenset({"a.jpg", "a_copy.jpg", "a_q60.jpg", "a_small.jpg"}),
                          frozenset({"b.jpg", "b_q50.jpg"})}
    group_a = found[frozenset({"a.jpg", "a_copy.jpg", "a_q60.jpg", "a_small.jpg"})]
    assert names[group_a.members[0]] in ("a.jpg", "a_copy.jpg")  # the keeper: most pixels, bytes
    assert group_a.kind == "near" and group_a.exact[:2] == [True, True]
    assert all(d <= 6 for d in group_a.distances)

    exact_only = group_duplicates(hashes, threshold=-1)
    assert [sorted(names[i] for i in g.members) for g in exact_only] == [["a.jpg", "a_copy.jpg"]]
    assert exact_only[0].kind == "exact"


def test_same_shot_in_another_paint_is_not_a_copy(tmp_path):
    """pHash sees only the grayscale layout; the colour grid tells a red car from a green one
    of the same brightness."""
    for name, paint in (("red.jpg", (200, 40, 40)), ("green.jpg", (40, 120, 40))):
        image = scene(5, (96, 72))
        ImageDraw.Draw(image).rectangle([10, 20, 80, 60], fill=paint)
        image.save(tmp_path / name, quality=95)
    red, green = hash_image(tmp_path / "red.jpg"), hash_image(tmp_path / "green.jpg")
    assert hamming(red.perceptual, green.perceptual) <= 6
    assert colour_difference(red.colours, green.colours) > 12
    assert group_duplicates([red, green], threshold=6) == []
    assert len(group_duplicates([red, green], threshold=6, max_colour_difference=255)) == 1


# --- the script -------------------------------------------------------------------------------

def messy_folder(folder):
    """Six parsed pictures (two copies of one, a re-encoded copy of another), one odd name,
    and four bad files. Returns {name: sha256} of everything put there."""
    folder.mkdir()
    scene(10).save(folder / car_name(id_="aaa"), quality=95)
    copy = (folder / car_name(id_="aaa")).read_bytes()
    (folder / car_name(year=2014, id_="bbb")).write_bytes(copy)
    scene(11).save(folder / car_name("Mercedes-Benz", "C-Class", 2015, mileage="nan", id_="ccc"),
                   quality=95)
    scene(11).save(folder / car_name("Mercedes-Benz", "C-Class", 2016, id_="ddd"), quality=60)
    scene(12).save(folder / car_name("Alfa Romeo", "4C", 2015, "2dr", id_="eee"))
    scene(13).save(folder / car_name("Ford", "F-150", 2017, "Pickup", id_="fff"))
    scene(14).save(folder / "IMG_0001.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "cut.jpg").write_bytes(copy[: len(copy) // 2])
    (folder / "page.jpg").write_text("<html>404 not found</html>")
    (folder / "notes.txt").write_text("my notes")
    return {p.name: digest(p) for p in folder.iterdir()}


def locations(folder):
    """{name: [where]} over the folder, rejected/ and duplicates/ (hidden files skipped)."""
    found = {}
    for where in ("", "rejected", "duplicates"):
        directory = folder / where
        if directory.is_dir():
            for path in directory.iterdir():
                if path.is_file() and not path.name.startswith("."):
                    found.setdefault(path.name, []).append(where or ".")
    return found


def assert_nothing_lost(folder, originals):
    found = locations(folder)
    assert set(found) == set(originals), "files appeared or vanished"
    for name, places in found.items():
        assert len(places) == 1, f"{name} is in {places}"
        where = folder / ("" if places[0] == "." else places[0]) / name
        assert digest(where) == originals[name], f"{name} changed"


def test_report_reject_dedupe_rerun_restore(tmp_path):
    folder = tmp_path / "pictures"
    originals = messy_folder(folder)
    report = tmp_path / "report"

    result = run_script(folder, "--report", report, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: nothing was moved" in result.stdout
    assert {p.name for p in folder.iterdir() if not p.name.startswith(".")} == set(originals)

    result = run_script(folder, "--report", report)
    assert result.returncode == 0, result.stderr
    assert "by make:" in result.stdout and "image sizes" in result.stdout
    rejected = {row["original_name"]: row["reason"] for row in read_csv(report / "rejected.csv")}
    assert set(rejected) == {"empty.jpg", "cut.jpg", "page.jpg", "notes.txt"}
    assert rejected["empty.jpg"] == "empty file (0 bytes)"
    assert "truncated" in rejected["cut.jpg"] and "not an image" in rejected["page.jpg"]
    assert sorted(os.listdir(folder / "rejected")) == sorted(rejected)

    metadata = {row["file"]: row for row in read_csv(report / "metadata.csv")}
    assert len(metadata) == 6 and list(read_csv(report / "metadata.csv")[0])[1:18] == list(COLUMNS)
    benz = metadata[car_name("Mercedes-Benz", "C-Class", 2015, mileage="nan", id_="ccc")]
    assert benz["model"] == "C-Class" and benz["gas_mileage"] == "" and benz["image_width"] == "64"
    assert [row["file"] for row in read_csv(report / "unparsed.csv")] == ["IMG_0001.jpg"]

    groups = {}
    for row in read_csv(report / "duplicates.csv"):
        groups.setdefault(row["group"], set()).add((row["file"], row["role"]))
    assert set(map(frozenset, groups.values())) == {
        frozenset({(car_name(id_="aaa"), "keep"), (car_name(year=2014, id_="bbb"), "exact")}),
        frozenset({(car_name("Mercedes-Benz", "C-Class", 2015, mileage="nan", id_="ccc"), "keep"),
                   (car_name("Mercedes-Benz", "C-Class", 2016, id_="ddd"), "near")})}
    assert not (folder / "duplicates").exists()  # reported, not moved, without --dedupe

    result = run_script(folder, "--report", report, "--dedupe")
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(folder / "duplicates")) == sorted(
        [car_name(year=2014, id_="bbb"), car_name("Mercedes-Benz", "C-Class", 2016, id_="ddd")])
    assert "pictures in the folder now: 5" in result.stdout
    before = {name: (report / name).read_text() for name in ("duplicates.csv", "rejected.csv")}

    result = run_script(folder, "--report", report, "--dedupe")  # a re-run changes nothing
    assert result.returncode == 0, result.stderr
    assert "0 files read now" in result.stdout
    assert {name: (report / name).read_text() for name in before} == before
    assert len(read_csv(report / "metadata.csv")) == 6
    assert_nothing_lost(folder, originals)

    result = run_script(folder, "--restore")
    assert result.returncode == 0, result.stderr
    assert "moved 6 files" in result.stdout
    assert set(locations(folder)) == set(originals)
    assert all(places == ["."] for places in locations(folder).values())


def test_default_report_folder_and_name_collisions_in_rejected(tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    scene(1).save(folder / car_name())
    (folder / "rejected").mkdir()
    (folder / "rejected" / "empty.jpg").write_text("the user's own file")
    (folder / "empty.jpg").write_bytes(b"")
    result = run_script(folder)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "pictures_report" / "metadata.csv").exists()
    assert (folder / "rejected" / "empty.jpg").read_text() == "the user's own file"
    assert (folder / "rejected" / "empty~1.jpg").stat().st_size == 0
    rows = read_csv(tmp_path / "pictures_report" / "rejected.csv")
    assert {row["file"]: row["reason"] for row in rows} == {
        "rejected/empty.jpg": "(not moved here by this tool)",
        "rejected/empty~1.jpg": "empty file (0 bytes)"}


def test_two_preparations_of_one_folder_at_once_are_refused(tmp_path):
    from cargen.safe_files import moving_lock
    folder = tmp_path / "pictures"
    folder.mkdir()
    (folder / "empty.jpg").write_bytes(b"")
    with moving_lock(folder):  # as a preparation (or a sort) still running would hold it
        result = run_script(folder)
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "is moving files in this folder" in result.stderr
    assert (folder / "empty.jpg").exists()
    assert run_script(folder).returncode == 0 and (folder / "rejected" / "empty.jpg").exists()


def test_bad_arguments_are_one_line_errors(tmp_path):
    result = run_script(tmp_path / "nowhere")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "not a folder" in result.stderr
    result = run_script(tmp_path, "--max-distance", "40")
    assert result.returncode == 2 and "--max-distance" in result.stderr
    result = run_script(tmp_path, "--report", tmp_path)
    assert result.returncode == 2 and "cannot go into the pictures folder" in result.stderr


def many_pictures(folder, count):
    """`count` tiny pictures, a third of them exact copies, some empty. Returns {name: sha256}."""
    folder.mkdir()
    previous = None
    for index in range(count):
        path = folder / car_name(year=2000 + index % 20, id_=f"k{index:04d}")
        if index % 17 == 5:
            path.write_bytes(b"")
        elif index % 3 == 2:
            path.write_bytes(previous.read_bytes())
        else:
            scene(index, (32, 24)).save(path, quality=90)
        previous = path
    return {p.name: digest(p) for p in folder.iterdir()}


def clean_run(tmp_path, folder):
    """The state an uninterrupted run leaves, on a copy of `folder`."""
    reference = tmp_path / "reference"
    shutil.copytree(folder, reference)
    result = run_script(reference, "--dedupe")
    assert result.returncode == 0, result.stderr
    return locations(reference)


def moved_count(folder):
    return sum(len(os.listdir(folder / sub)) for sub in ("rejected", "duplicates")
               if (folder / sub).is_dir())


# Killed by itself with the 7th move journaled but not started ("intent") or done but not yet
# marked done ("moves").
@pytest.mark.parametrize("crash_at", ["intent:7", "moves:7"])
def test_killed_between_journal_and_rename_loses_nothing(tmp_path, crash_at):
    folder = tmp_path / "pictures"
    originals = many_pictures(folder, 60)
    expected = clean_run(tmp_path, folder)
    result = run_script(folder, "--dedupe", env=dict(os.environ, CARGEN_KILL_AT=crash_at))
    assert result.returncode == -signal.SIGKILL
    assert_nothing_lost(folder, originals)
    assert moved_count(folder) == (6 if crash_at.startswith("intent") else 7)

    result = run_script(folder, "--dedupe")
    assert result.returncode == 0, result.stderr
    assert ("killed just before moving" in result.stdout) == crash_at.startswith("intent")
    assert_nothing_lost(folder, originals)
    assert locations(folder) == expected


def test_sigkill_at_random_moments_then_rerun(tmp_path):
    folder = tmp_path / "pictures"
    originals = many_pictures(folder, 300)
    started = time.perf_counter()
    expected = clean_run(tmp_path, folder)
    whole_run = time.perf_counter() - started  # kills at fractions of it, whatever the host speed
    finished, kills, mid_move = False, 0, 0
    for fraction in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 1.2, 2.0):
        delay = fraction * whole_run
        process = subprocess.Popen([sys.executable, SCRIPT, str(folder), "--dedupe"], cwd=REPO,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        finished = process.wait() == 0
        assert_nothing_lost(folder, originals)
        mid_move += 0 < moved_count(folder) < 100 and not finished
        if finished:
            break
    assert kills >= 1
    result = run_script(folder, "--dedupe")
    assert result.returncode == 0, result.stderr
    assert_nothing_lost(folder, originals)
    assert locations(folder) == expected
    print(f"{kills} kills, {mid_move} of them in the middle of the moves, run {whole_run:.2f} s")
