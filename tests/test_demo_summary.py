"""The end of `make demo`: the summary reads what the pipeline wrote and names what to open."""

import json
import time

import pytest

from cargen.cli import UsageError
from generator import demo_summary


def test_summary_reports_every_stage(tmp_path, capsys):
    classifier, sorted_dir, generator = tmp_path / "c", tmp_path / "s", tmp_path / "g"
    for folder in (classifier, sorted_dir, generator):
        folder.mkdir()
    (classifier / "report.json").write_text(json.dumps({"accuracy": 0.961, "macro_f1": 0.95}))
    (generator / "eval.json").write_text(json.dumps({
        "view_fidelity": 0.84, "real_view_fidelity": 1.0, "fd_classifier": 3.2, "kid": 0.05,
        "diversity": 4.1, "real_diversity": 4.3}))
    (sorted_dir / "predictions.csv").write_text(
        "file,destination,action,view,confidence,p_front,p_rear,error\n"
        "a.jpg,s/front/a.jpg,copied,front,0.9,0.9,0.1,\n"
        "b.jpg,s/front/b.jpg,copied,front,0.8,0.8,0.2,\n"
        "c.jpg,s/unknown/c.jpg,copied,front,0.5,0.5,0.5,\n"
        "d.jpg,,error,,,,,empty file\n")
    demo_summary.main(["--classifier", str(classifier), "--sorted", str(sorted_dir),
                       "--generator", str(generator), "--samples", str(tmp_path / "x"),
                       "--started", str(time.time() - 90)])
    out = capsys.readouterr().out
    assert "finished in 1.5 min" in out
    assert "accuracy 96.1%" in out and "3 pictures: errors 1, front 2, unknown 1" in out
    assert "view fidelity 84.0% (real photos 100.0%)" in out and "grid.png" in out


def test_missing_stage_output_is_one_line(tmp_path):
    with pytest.raises(UsageError, match="report.json: missing or unreadable"):
        demo_summary.main(["--classifier", str(tmp_path), "--sorted", str(tmp_path),
                           "--generator", str(tmp_path), "--samples", str(tmp_path)])
