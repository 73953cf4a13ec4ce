"""The renderer's sets that `make pretrained` and the left-out benchmark train on."""

import json
import shutil

import pytest
from PIL import Image

from cargen.cli import UsageError
from cargen.synthetic import training_sets


def test_sets_are_rendered_once_and_after_a_kill_again(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(training_sets.RENDERER_SETS, "views", (("front", "rear"), 5))
    monkeypatch.setitem(training_sets.RENDERER_SETS, "other", (("other",), 5))
    views, other = tmp_path / "views", tmp_path / "other"
    assert training_sets.main(["--views", str(views), "--other", str(other),
                               "--workers", "1"]) == 0
    assert sorted(p.name for p in (views / "train").iterdir()) == ["front", "rear"]
    assert len(list((views / "train" / "front").glob("*.jpg"))) == 5
    assert len(list((views / "validation" / "rear").glob("*.jpg"))) == 1
    assert [p.name for p in (other / "train").iterdir()] == ["other"]
    assert json.loads((views / "synthesis.json").read_text())["options"]["pictures"] == 0

    stamp = (views / "synthesis.json").stat().st_mtime_ns
    training_sets.renderer_set(views, "views", workers=1)
    assert (views / "synthesis.json").stat().st_mtime_ns == stamp  # present: not redone

    monkeypatch.setattr(training_sets, "PORTRAIT_SHARE", 0.5)  # another recipe: kept, noted
    training_sets.renderer_set(views, "views", workers=1)
    assert (views / "synthesis.json").stat().st_mtime_ns == stamp
    assert "portrait 0.0 (recipe: 0.5)" in capsys.readouterr().out
    upright = training_sets.renderer_set(tmp_path / "upright", "views", workers=1)
    sizes = {Image.open(path).size for path in (upright / "train").rglob("*.jpg")}
    assert sizes == {(320, 240), (240, 320)}

    shutil.rmtree(other)  # a killed rendering leaves only its hidden work folder
    (tmp_path / ".other.partial-1" / "train").mkdir(parents=True)
    training_sets.renderer_set(other, "other", workers=1)
    assert len(list((other / "train" / "other").glob("*.jpg"))) == 5


def test_a_folder_that_is_not_a_rendering_is_never_replaced(tmp_path):
    mine = tmp_path / "photos"
    mine.mkdir()
    (mine / "car.jpg").write_bytes(b"mine")
    with pytest.raises(UsageError, match="not a synthetic dataset"):
        training_sets.renderer_set(mine, "views", workers=1)
    assert (mine / "car.jpg").read_bytes() == b"mine"
