"""Sorting photos by viewpoint: every file where its prediction says, nothing ever lost."""

import csv
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from in_process import run_in_process
from PIL import Image

from cargen.images import load_square
from cargen.safe_files import KILL_ENV, FolderBusyError, moving_lock
from classifier.inference import load_classifier
from classifier.sort_manifest import ERROR, MANIFEST_NAME, REPORT_NAME, UNKNOWN
from classifier.sorting import sort_folder
from classifier.undo_sort import undo_sort

REPO = Path(__file__).resolve().parents[1]
SCRIPT = str(REPO / "classifier" / "classify_images.py")
# The untrained test model gives every class about 1/9; this threshold splits the files
# between view folders and unknown/.
THRESHOLD = 0.115


def make_photos(folder, n, seed=0):
    """`n` distinct small jpgs (plus a png) directly inside `folder`; returns {name: sha256}."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        pixels = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
        pixels[:, : 4 + i % 24] = (i * 37) % 256
        suffix = ".png" if i == 0 else ".jpg"
        Image.fromarray(pixels).save(folder / f"car_{i:03d}{suffix}")
    return hashes(folder)


def add_bad_files(folder):
    """A zero-byte jpg, a text file named .jpg and a truncated jpg."""
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.jpg").write_text("not a picture")
    good = next(folder.glob("car_001.jpg")).read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) // 2])


def hashes(folder):
    """{relative path: sha256} of every file under `folder`, hidden state files excluded."""
    result = {}
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            result[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return result


def listing(folder):
    """Every file and folder under `folder` with its content hash (files) or None (folders)."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else None)
            for p in sorted(Path(folder).rglob("*"))}


def read_manifest(folder):
    with open(Path(folder) / MANIFEST_NAME, newline="") as handle:
        return list(csv.DictReader(handle))


def assert_each_original_once(originals, folder):
    """Every original content exists exactly once under `folder` (manifest and report aside)."""
    now = hashes(folder)
    counts = {}
    for name, digest in now.items():
        if name not in (MANIFEST_NAME, REPORT_NAME):
            counts[digest] = counts.get(digest, 0) + 1
    for name, digest in originals.items():
        assert counts.get(digest) == 1, f"{name}: found {counts.get(digest, 0)} times"
    assert sum(counts.values()) == len(originals)


def run_script(*args, env=None, check=True):
    """Run classify_images.py in a new Python process (it can be killed there)."""
    result = subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=REPO,
                            capture_output=True, text=True, env=env, timeout=600)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def run(*args, check=True):
    """Run classify_images.py's main in this process."""
    result = run_in_process("classifier/classify_images.py", *args)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_sort_puts_every_file_where_its_prediction_says(tiny_classifier_run, tmp_path):
    pictures = tmp_path / "pictures"
    make_photos(pictures, 24)
    add_bad_files(pictures)
    originals = hashes(pictures)
    classifier = load_classifier(tiny_classifier_run)
    result = sort_folder(classifier, pictures, threshold=THRESHOLD, batch_size=8)

    rows = read_manifest(pictures)
    sorted_rows = [row for row in rows if row["action"] == "moved"]
    assert len(sorted_rows) == 24 and len({row["file"] for row in sorted_rows}) == 24
    for row in sorted_rows:
        probs = np.array([float(row[f"p_{name}"]) for name in classifier.classes])
        top = classifier.classes[int(probs.argmax())]
        expected = top if probs.max() >= THRESHOLD else UNKNOWN
        assert row["view"] == top and float(row["confidence"]) == pytest.approx(probs.max())
        assert row["destination"] == f"{expected}/{row['file']}"
        assert (pictures / row["destination"]).is_file()
        assert not (pictures / row["file"]).exists()
    # The recorded prediction is the model's own on the same image.
    row = sorted_rows[5]
    image = load_square(pictures / row["destination"], classifier.image_size, classifier.fit)
    probs = classifier.predict(image[None])[0]
    assert float(row["confidence"]) == pytest.approx(probs.max(), abs=1e-3)

    folders = {row["destination"].split("/")[0] for row in sorted_rows}
    assert UNKNOWN in folders and len(folders) > 1
    assert sum(result.counts.values()) == 24 == sum(result.totals.values())
    assert {name: len(list((pictures / name).iterdir())) for name in folders} == result.counts

    errors = {row["file"]: row["error"] for row in rows if row["action"] == ERROR}
    assert sorted(errors) == ["empty.jpg", "notes.jpg", "truncated.jpg"]
    assert "empty" in errors["empty.jpg"] and "runcated" in errors["truncated.jpg"]
    assert len(result.errors) == 3 and result.total_errors == 3
    for name in errors:
        assert (pictures / name).exists()  # bad files stay where they are
    assert_each_original_once(originals, pictures)

    again = sort_folder(classifier, pictures, threshold=THRESHOLD, batch_size=8)
    assert sum(again.counts.values()) == 0 and len(read_manifest(pictures)) == len(rows)


def test_collisions_get_a_suffix_never_an_overwrite(tiny_classifier_run, tmp_path):
    pictures = tmp_path / "pictures"
    make_photos(pictures, 6)
    (pictures / UNKNOWN).mkdir()
    Image.new("RGB", (8, 8), "red").save(pictures / UNKNOWN / "car_002.jpg")
    Image.new("RGB", (8, 8), "blue").save(pictures / UNKNOWN / "car_002~1.jpg")
    before = hashes(pictures)
    classifier = load_classifier(tiny_classifier_run)
    sort_folder(classifier, pictures, threshold=1.0)  # nothing reaches 1.0: all to unknown/
    after = hashes(pictures)
    assert after[f"{UNKNOWN}/car_002.jpg"] == before[f"{UNKNOWN}/car_002.jpg"]
    assert after[f"{UNKNOWN}/car_002~1.jpg"] == before[f"{UNKNOWN}/car_002~1.jpg"]
    assert after[f"{UNKNOWN}/car_002~2.jpg"] == before["car_002.jpg"]
    # A new photo with an already-sorted name is sorted too, next to the first one.
    Image.new("RGB", (8, 8), "green").save(pictures / "car_003.jpg")
    green = hashes(pictures)["car_003.jpg"]
    sort_folder(classifier, pictures, threshold=1.0)
    assert hashes(pictures)[f"{UNKNOWN}/car_003~1.jpg"] == green
    assert undo_sort(pictures).complete
    assert hashes(pictures) == {**before, "car_003~1.jpg": green}


def test_dry_run_changes_nothing_and_undo_restores_the_listing(tiny_classifier_run, tmp_path):
    pictures = tmp_path / "pictures"
    make_photos(pictures, 10)
    add_bad_files(pictures)
    before = listing(pictures)
    stat_before = {p: os.stat(pictures / p).st_mtime_ns for p in before}
    dry = run("--model", tiny_classifier_run, "--input", pictures, "--dry-run",
              "--threshold", THRESHOLD)
    assert "nothing was changed" in dry.stdout and "would move" in dry.stdout
    assert listing(pictures) == before
    assert {p: os.stat(pictures / p).st_mtime_ns for p in before} == stat_before
    assert sorted(os.listdir(pictures)) == sorted(before)

    sort = run("--model", tiny_classifier_run, "--input", pictures,
               "--threshold", THRESHOLD, "--batch-size", "4")
    assert "errors" in sort.stdout and "images/s" in sort.stdout
    assert (pictures / REPORT_NAME).is_file() and (pictures / MANIFEST_NAME).is_file()
    with Image.open(pictures / REPORT_NAME) as report:
        assert report.width > 500 and report.height > 500
    assert listing(pictures) != before
    undo = run("--input", pictures, "--undo")
    assert "back as before" in undo.stdout
    assert listing(pictures) == before
    assert sorted(os.listdir(pictures)) == sorted(before)


def test_copy_to_another_folder_and_undo(tiny_classifier_run, tmp_path):
    pictures, sorted_dir = tmp_path / "pictures", tmp_path / "sorted"
    make_photos(pictures, 8)
    before = listing(pictures)
    classifier = load_classifier(tiny_classifier_run)
    result = sort_folder(classifier, pictures, sorted_dir, threshold=THRESHOLD, mode="copy")
    assert sum(result.counts.values()) == 8
    assert listing(pictures) == before
    copies = {k: v for k, v in hashes(sorted_dir).items() if "/" in k}
    assert sorted(copies.values()) == sorted(hashes(pictures).values())
    again = sort_folder(classifier, pictures, sorted_dir, threshold=THRESHOLD, mode="copy")
    assert sum(again.counts.values()) == 0 and again.skipped == 8
    assert undo_sort(sorted_dir).complete
    assert listing(pictures) == before and not sorted_dir.exists() or not any(sorted_dir.iterdir())


def test_a_folder_another_job_is_moving_files_in_is_not_sorted(tiny_classifier_run, tmp_path):
    pictures = tmp_path / "pictures"
    make_photos(pictures, 4)
    before = sorted(os.listdir(pictures))
    classifier = load_classifier(tiny_classifier_run)
    with moving_lock(pictures):  # as a preparation of the folder still running would hold it
        with pytest.raises(FolderBusyError, match="is moving files in this folder"):
            sort_folder(classifier, pictures, threshold=THRESHOLD)
        assert sorted(os.listdir(pictures)) == before
        copied = sort_folder(classifier, pictures, tmp_path / "copies", threshold=THRESHOLD,
                             mode="copy")  # a copy moves nothing out of the folder
        assert sum(copied.counts.values()) == 4
    sort_folder(classifier, pictures, threshold=THRESHOLD)
    with moving_lock(pictures):
        with pytest.raises(FolderBusyError, match="is moving files in this folder"):
            undo_sort(pictures)
    assert undo_sort(pictures).complete and sorted(os.listdir(pictures)) == before


def test_one_line_errors(tiny_classifier_run, tmp_path):
    pictures = tmp_path / "pictures"
    make_photos(pictures, 2)
    incomplete = tmp_path / "incomplete"
    incomplete.mkdir()
    (incomplete / "classes.json").write_text("{}")
    empty = tmp_path / "empty"
    empty.mkdir()
    cases = [
        (["--model", tiny_classifier_run, "--input", pictures, "--threshold", "0"], "threshold"),
        (["--model", tiny_classifier_run, "--input", pictures, "--threshold", "1.5"],
         "threshold"),
        (["--model", tmp_path / "nope", "--input", pictures], "model folder not found"),
        (["--model", incomplete, "--input", pictures], "model.keras is missing"),
        (["--model", tiny_classifier_run, "--input", empty], "no images"),
        (["--model", tiny_classifier_run, "--input", tmp_path / "missing"], "not found"),
        (["--input", pictures, "--undo"], "nothing to undo"),
    ]
    for args, message in cases:
        result = run(*args, check=False)
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], result.stderr
    assert sorted(os.listdir(pictures)) == ["car_000.png", "car_001.jpg"]


def wait_for_rows(path, rows, process, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline and process.poll() is None:
        if path.exists() and path.read_bytes().count(b"\n") > rows:
            return
        time.sleep(0.005)


def test_sigkill_at_any_point_then_rerun_loses_nothing(tiny_classifier_run, tmp_path):
    pictures = tmp_path / "pictures"
    make_photos(pictures, 40)
    add_bad_files(pictures)
    originals = hashes(pictures)
    sort_args = ["--model", tiny_classifier_run, "--input", pictures, "--threshold", THRESHOLD,
                 "--batch-size", "3", "--no-report"]
    # Killed by itself at each risky instant: journal written, file linked but not yet
    # removed from the input, batch moved but not recorded, recorded but not marked done.
    for point in ("intent:2", "link:4", "moves:2", "recorded:3"):
        env = {**os.environ, KILL_ENV: point}
        result = run_script(*sort_args, env=env, check=False)
        assert result.returncode == -signal.SIGKILL, (point, result.stderr)
        now = hashes(pictures)
        assert set(originals.values()) <= set(now.values()), point  # nothing lost, ever
    # Killed from outside while it works.
    process = subprocess.Popen([sys.executable, SCRIPT, *map(str, sort_args)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_rows(pictures / MANIFEST_NAME, len(read_manifest(pictures)) + 4, process)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert set(originals.values()) <= set(hashes(pictures).values())

    run(*sort_args)  # the re-run needs no new process
    assert_each_original_once(originals, pictures)
    rows = read_manifest(pictures)
    moved = [row for row in rows if row["action"] == "moved"]
    assert len(moved) == 40 and len({row["file"] for row in moved}) == 40
    assert all((pictures / row["destination"]).is_file() for row in moved)
    assert not (pictures / ".cargen-sort" / "journal.jsonl").exists()

    # Undo, killed half-way, then finished by a re-run: the original listing again.
    env = {**os.environ, KILL_ENV: "link:5"}
    result = run_script("--input", pictures, "--undo", "--batch-size", "4", env=env,
                        check=False)
    assert result.returncode == -signal.SIGKILL
    run("--input", pictures, "--undo")
    assert hashes(pictures) == originals


def test_moves_across_file_systems_copy_then_remove(tiny_classifier_run, tmp_path,
                                                    monkeypatch):
    import errno

    from cargen import safe_files
    pictures = tmp_path / "pictures"
    make_photos(pictures, 5)
    originals = hashes(pictures)

    def no_links(src, dst):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(safe_files.os, "link", no_links)
    result = sort_folder(load_classifier(tiny_classifier_run), pictures, threshold=THRESHOLD)
    assert sum(result.counts.values()) == 5
    assert_each_original_once(originals, pictures)
    assert not list(pictures.rglob(".cargen-tmp-*"))
    monkeypatch.undo()
    assert undo_sort(pictures).complete and hashes(pictures) == originals
