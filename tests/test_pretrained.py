"""The shipped classifier (classifier/pretrained): present, small, consistent, and it sorts."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cargen.cli import UsageError
from cargen.views import VIEWS
from classifier.release_model import SHIPPED_FILES, SIZE_LIMIT_BYTES

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "classifier" / "pretrained"


def test_shipped_files_present_and_under_10_mb():
    sizes = {name: (PRETRAINED / name).stat().st_size for name in SHIPPED_FILES}
    assert sum(path.stat().st_size for path in PRETRAINED.iterdir()) < SIZE_LIMIT_BYTES, sizes


def test_classes_match_the_project_views_and_are_calibrated():
    info = json.loads((PRETRAINED / "classes.json").read_text())
    assert info["classes"] == list(VIEWS)
    assert 0.1 < info["temperature"] < 10 and info["temperature"] != 1.0
    report = json.loads((PRETRAINED / "report.json").read_text())
    assert report["classes"] == list(VIEWS) and report["accuracy"] > 0.9
    card = (PRETRAINED / "MODEL_CARD.md").read_text()
    assert "non-commercial research" in card and f"{report['accuracy']:.1%}" in card


def test_loads_and_predicts_every_view_class():
    from classifier.inference import load_classifier
    classifier = load_classifier(PRETRAINED)
    assert classifier.classes == list(VIEWS)
    assert classifier.model.count_params() > 0


def test_sorts_a_synthetic_folder_end_to_end(tmp_path):
    data = tmp_path / "synthetic"
    subprocess.run([sys.executable, str(REPO / "data" / "synthesize.py"), str(data),
                    "--per-view", "1", "--validation-per-view", "1", "--pictures", "36",
                    "--workers", "1"], check=True, capture_output=True, cwd=REPO)
    truth = {row["file"]: row["view"]
             for row in csv.DictReader(open(data / "pictures_labels.csv", newline=""))}
    out = tmp_path / "sorted"
    result = subprocess.run([sys.executable, str(REPO / "classifier" / "classify_images.py"),
                             "--input", str(data / "pictures"), "--copy", "--out", str(out)],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].startswith("model: the shipped pretrained classifier")
    placed = {path.name: path.parent.name for path in out.glob("*/*.jpg")}
    assert set(placed) == set(truth)
    sorted_views = {name: view for name, view in placed.items() if view != "unknown"}
    right = sum(truth[name] == view for name, view in sorted_views.items())
    assert len(sorted_views) >= len(truth) // 3
    # Renders are not the real photos it learned from (14 of 34 right when written), but a
    # model with its classes out of order or broken weights would be at chance (1 in 9).
    assert right >= len(sorted_views) / 4, (right, len(sorted_views))
    rows = list(csv.DictReader(open(out / "predictions.csv", newline="")))
    assert len(rows) == len(truth)


def test_model_card_counts_what_each_run_trained_on(tmp_path):
    from classifier.release_model import source_counts

    def photos(folder, view, n):
        (folder / view).mkdir(parents=True)
        for i in range(n):
            (folder / view / f"{i}.jpg").write_bytes(b"")

    street, listing, extra = tmp_path / "street", tmp_path / "listing", tmp_path / "extra"
    photos(street / "train", "front", 3)
    photos(street / "validation", "front", 2)
    photos(listing / "train", "other", 4)
    photos(listing / "validation", "other", 1)
    photos(extra, "rear", 5)
    measured = {"data": str(street), "add": [str(listing), str(extra)]}
    assert source_counts(measured) == {"street": {"front": 3}, "listing": {"other": 4},
                                       "extra": {"rear": 5}}
    released = {"data": str(street), "add": [str(listing), str(extra), str(street / "validation"),
                                             str(listing / "validation")]}
    assert source_counts(released) == {"street": {"front": 5}, "listing": {"other": 5},
                                       "extra": {"rear": 5}}
    # a folder the run trained on that is gone is an error, not a source left off the card
    with pytest.raises(UsageError, match="missing.*not there"):
        source_counts({**measured, "add": [str(tmp_path / "missing")], "out": "run"})
