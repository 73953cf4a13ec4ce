"""Training the viewpoint classifier: the run folder, splits, flips, bad files, resume, errors."""

import csv
import gc
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from in_process import run_in_process
from PIL import Image

from cargen.cli import UsageError
from cargen.labelled_sets import read_view_folders
from cargen.views import VIEWS

REPO = Path(__file__).resolve().parents[1]
RUN_FILES = ("model.keras", "classes.json", "options.json", "history.csv", "curves.png",
             "confusion.png", "report.json")


def make_view_folder(root, views, per_view, seed=0, size=(40, 30)):
    """One folder per view with `per_view` small jpgs; each view has its own colour and a
    brightness ramp that runs left-to-right or right-to-left (so a mirror image differs)."""
    rng = np.random.default_rng(seed)
    for v, view in enumerate(views):
        folder = Path(root) / view
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_view.get(view, 0) if isinstance(per_view, dict) else per_view):
            ramp = np.linspace(40, 220, size[0])[None, :, None]
            if "right" in view:
                ramp = ramp[:, ::-1]
            colour = np.array([(v * 37) % 255, (v * 91) % 255, (v * 53) % 255])[None, None]
            pixels = 0.6 * ramp + 0.4 * colour + rng.normal(0, 8, (size[1], size[0], 3))
            Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
                folder / f"{view}_{i}.jpg")
    return Path(root)


def run_script(*args, timeout=600):
    """Run a script in a new Python process; returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


TINY = ("--image-size", "32", "--epochs", "2", "--batch-size", "16")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A 2-epoch run on 9 views x 6 images with a corrupt file in the training set."""
    root = tmp_path_factory.mktemp("views")
    make_view_folder(root / "train", VIEWS, 6)
    make_view_folder(root / "validation", VIEWS, 2, seed=1)
    (root / "train" / "front" / "broken.jpg").write_bytes(b"not a jpeg at all")
    out = root / "run"
    result = run_script("classifier/train_model.py", "--data", root, "--out", out, *TINY,
                        "--width", "0.5")
    assert result.returncode == 0, result.stderr
    return root, out, result


def test_training_writes_the_whole_run_folder(trained_run):
    root, out, result = trained_run
    for name in RUN_FILES:
        assert (out / name).is_file(), name
    assert not (out / "backup").exists()
    info = json.loads((out / "classes.json").read_text())
    assert info["classes"] == list(VIEWS)
    assert info["image_size"] == 32 and info["fit"] == "pad"
    assert info["temperature"] > 0 and info["flip_average"] is True
    assert info["flip_average_below"] == 0.9
    assert info["width"] == 0.5
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 18
    assert report["parameters"] < 173_377 / 2  # the network at width 1
    assert 0 <= report["accuracy"] <= 1 and 0 <= report["macro_f1"] <= 1
    assert set(report["per_class"]) == set(VIEWS)
    assert np.array(report["confusion_matrix"]).sum() == 18
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and all(np.isfinite(float(row["loss"])) for row in rows)
    options = json.loads((out / "options.json").read_text())
    assert options["arch"] == "compact" and options["flip"] is True


def test_corrupt_training_file_is_skipped_and_counted(trained_run):
    root, out, result = trained_run
    assert "skipped unreadable image" in result.stdout and "broken.jpg" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert [Path(p).name for p in report["skipped_files"]] == ["broken.jpg"]


def test_resume_of_a_finished_run_does_nothing(trained_run):
    _, out, _ = trained_run
    before = (out / "model.keras").stat().st_mtime
    from classifier.train_model import main
    with pytest.raises(SystemExit) as stop:
        from cargen.cli import run_main
        run_main(main, ["--data", str(out.parent), "--out", str(out), "--resume", *TINY])
    assert stop.value.code == 0
    assert (out / "model.keras").stat().st_mtime == before


def test_recalibrate_rewrites_the_report_and_keeps_the_model(trained_run, tmp_path):
    import shutil
    _, out, _ = trained_run
    run = tmp_path / "run"
    shutil.copytree(out, run)
    before = json.loads((run / "report.json").read_text())
    model_time = (run / "model.keras").stat().st_mtime
    result = run_in_process("classifier/train_model.py", "--out", run, "--recalibrate",
                            "--no-flip-average", "--threshold", "0.5")
    assert result.returncode == 0, result.stderr
    after = json.loads((run / "report.json").read_text())
    assert after["flip_average"] is False and after["threshold"] == 0.5
    assert after["training_seconds"] == before["training_seconds"]
    assert after["skipped_files"] == before["skipped_files"] and after["images"] == 18
    assert json.loads((run / "classes.json").read_text())["flip_average"] is False
    assert json.loads((run / "options.json").read_text())["threshold"] == 0.5
    assert (run / "model.keras").stat().st_mtime == model_time


def test_recalibrate_needs_a_finished_run(tmp_path):
    result = run_in_process("classifier/train_model.py", "--out", tmp_path / "none",
                            "--recalibrate")
    assert result.returncode != 0
    assert "--recalibrate needs a finished run" in result.stderr
    assert "Traceback" not in result.stderr


def test_single_folder_split_with_empty_right_gets_right_from_flips(tmp_path):
    views = [v for v in VIEWS if v != "right"]
    make_view_folder(tmp_path / "views", views, 5)
    (tmp_path / "views" / "right").mkdir()
    out = tmp_path / "run"
    result = run_in_process("classifier/train_model.py", "--data", tmp_path / "views",
                            "--out", out, "--validation-split", "0.2", "--epochs", "1",
                            "--image-size", "32", "--holdout", "0", "--arch", "seed")
    assert result.returncode == 0, result.stderr
    info = json.loads((out / "classes.json").read_text())
    assert "right" in info["classes"]
    options = json.loads((out / "options.json").read_text())
    assert options["validation_counts"] == {v: 1 for v in views}
    assert "right" not in options["train_counts"]


def test_flip_turns_left_into_right_with_the_image_mirrored(tmp_path):
    from classifier import training_data
    make_view_folder(tmp_path, ["left", "front"], 4)
    files = read_view_folders(tmp_path)
    classes = training_data.class_list(files.views, flip=True)
    assert classes == ["front", "left", "right"]
    cached, failed = training_data.decoded_dataset(files, classes, 32, "stretch")
    originals = {int(label): [] for label in range(3)}
    for image, label in cached.as_numpy_iterator():
        originals[int(label)].append(image.astype(np.float32))
    stream = training_data.training_pipeline(cached, classes, 8, flip=True, seed=3)
    seen = set()
    for _ in range(5):
        for images, onehot in stream.as_numpy_iterator():
            for image, label in zip(images, onehot.argmax(axis=1)):
                seen.add(classes[label])
                if classes[label] == "right":
                    assert any(np.array_equal(image, o[:, ::-1]) for o in originals[1])
    assert seen == {"front", "left", "right"}


def test_balanced_weights_account_for_mirror_partners():
    from classifier.training_data import balanced_class_weights
    views = ["front"] * 30 + ["left"] * 10
    weights = balanced_class_weights(views, ["front", "left", "right"], flip=True)
    # with flips front keeps 30, left and right get 5 each: weights 40/(3*30), 40/(3*5)
    np.testing.assert_allclose(weights, [40 / 90, 40 / 15, 40 / 15])


def test_resume_continues_a_killed_run(tmp_path, monkeypatch):
    from classifier import training
    make_view_folder(tmp_path / "views" / "train", VIEWS[:3], 4)
    make_view_folder(tmp_path / "views" / "validation", VIEWS[:3], 1)
    out = tmp_path / "run"
    options = vars(__import__("classifier.train_model", fromlist=["parse_args"]).parse_args(
        ["--data", str(tmp_path / "views"), "--out", str(out), "--epochs", "3",
         "--image-size", "32", "--holdout", "0", "--patience", "5", "--arch", "seed"]))
    options.pop("dry_run")

    epoch_end = training.EpochLine.on_epoch_end

    def crash_after_second_epoch(self, epoch, logs=None):
        epoch_end(self, epoch, logs)
        if epoch == 1:
            raise KeyboardInterrupt
    monkeypatch.setattr(training.EpochLine, "on_epoch_end", crash_after_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        training.train(options)
    # The interrupted fit left its model and input pipeline in reference cycles: collected
    # now they take a fraction of a second, left to a later test's collection they took 10 s.
    gc.collect()
    assert (out / "backup").is_dir() and not (out / "model.keras").exists()
    before = json.loads((out / "backup" / "training_time.json").read_text())
    assert before["train_images"] == 2 * 12 and before["seconds"] > 0  # under a batch: all kept
    monkeypatch.undo()
    with pytest.raises(Exception, match="--resume"):
        training.train(options)
    with pytest.raises(UsageError, match=r"started with --epochs 3 \(given 4\)"):
        training.train({**options, "resume": True, "epochs": 4})
    # --out and --resume alone continue the run with the options it was started with
    parse_args = __import__("classifier.train_model", fromlist=["parse_args"]).parse_args
    resumed = vars(parse_args(["--out", str(out), "--resume"]))
    resumed.pop("dry_run")
    training.train(resumed)
    with open(out / "history.csv") as handle:
        epochs = [int(row["epoch"]) for row in csv.DictReader(handle)]
    assert epochs == [0, 1, 2]
    assert (out / "report.json").is_file() and not (out / "backup").exists()
    # the report's training time counts the two epochs before the kill
    assert json.loads((out / "report.json").read_text())["training_seconds"] > before["seconds"]


@pytest.mark.parametrize("make, args, message", [
    (lambda root: root.mkdir(), [], "no view folders"),
    (lambda root: (root / "front").mkdir(parents=True), [], "no images found"),
    (lambda root: (root / "sideways").mkdir(parents=True), [],
     "unknown view folder 'sideways'; valid views: front, front_left"),
    (lambda root: make_view_folder(root, ["front"], 2), ["--image-size", "16"],
     "--image-size 16 is too small"),
    (lambda root: make_view_folder(root, ["front"], 2), ["--arch", "seed", "--width", "2"],
     "--width is for the compact network; seed has one width"),
    (lambda root: make_view_folder(root, ["front"], 2), ["--width", "8"],
     "--width 8 is out of range"),
])
def test_bad_input_is_one_line_error(tmp_path, capsys, make, args, message):
    from cargen.cli import run_main
    from classifier.train_model import main
    root = tmp_path / "data"
    make(root)
    with pytest.raises(SystemExit) as stop:
        run_main(main, ["--data", str(root), "--out", str(tmp_path / "run"), *args])
    error = capsys.readouterr().err
    assert stop.value.code == 2
    assert message in error and len(error.strip().splitlines()) == 1


def test_bad_input_from_the_real_script(tmp_path):
    (tmp_path / "cars").mkdir()
    result = run_script("classifier/train_model.py", "--data", tmp_path / "cars",
                        "--out", tmp_path / "run")
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error:") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_outlier_mosaics_are_labelled_other(tmp_path):
    from classifier import training_data
    make_view_folder(tmp_path, ["front", "left", "other"], 4)
    files = read_view_folders(tmp_path)
    classes = training_data.class_list(files.views, flip=True)
    cached, _ = training_data.decoded_dataset(files, classes, 32, "stretch")
    stream = training_data.training_pipeline(cached, classes, 12, outlier_share=1.0)
    images, onehot = next(iter(stream))
    assert images.shape == (12, 32, 32, 3)
    assert set(onehot.numpy().argmax(axis=1)) == {classes.index("other")}
