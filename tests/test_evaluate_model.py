"""Measuring a classifier run folder on a labelled folder with evaluate_model.py."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cargen.views import VIEWS
from tests.test_train_model import make_view_folder

REPO = Path(__file__).resolve().parents[1]


def run_script(*args):
    return subprocess.run([sys.executable, "classifier/evaluate_model.py", *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_evaluate_prints_and_writes_the_report(tiny_classifier_run, tmp_path):
    make_view_folder(tmp_path / "set" / "validation", VIEWS, 2)
    (tmp_path / "set" / "validation" / "rear" / "broken.jpg").write_bytes(b"\xff\xd8 garbage")
    result = run_script("--model", tiny_classifier_run, "--data", tmp_path / "set",
                        "--json", tmp_path / "report.json", "--confusion", tmp_path / "c.png")
    assert result.returncode == 0, result.stderr
    assert "accuracy" in result.stdout and "macro-F1" in result.stdout
    assert "skipped unreadable image" in result.stdout and "broken.jpg" in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["images"] == 18
    assert np.array(report["confusion_matrix"]).sum() == 18
    assert set(report["per_class"]) == set(VIEWS)
    assert 0 <= report["ece"] <= 1 and 0 <= report["sorted_share"] <= 1
    assert (tmp_path / "c.png").stat().st_size > 0


def test_evaluate_bad_inputs_are_one_line_errors(tiny_classifier_run, tmp_path, capsys):
    from cargen.cli import run_main
    from classifier.evaluate_model import main
    make_view_folder(tmp_path / "odd", ["front", "upside_down"], 1)
    for model, message in ((tiny_classifier_run, "unknown view folder 'upside_down'"),
                           (tmp_path / "nothing", "model folder not found")):
        with pytest.raises(SystemExit) as stop:
            run_main(main, ["--model", str(model), "--data", str(tmp_path / "odd")])
        error = capsys.readouterr().err
        assert stop.value.code == 2 and message in error
        assert len(error.strip().splitlines()) == 1
