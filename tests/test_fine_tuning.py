"""Fine-tuning a trained classifier on new labelled photos: `train_model.py --init RUN`."""

import json
import shutil

import numpy as np
import pytest
from in_process import run_in_process

from tests.test_train_model import TINY, make_view_folder


@pytest.fixture(scope="module")
def base_run(tmp_path_factory):
    """A 2-epoch 32 px run over front, left and right (right from flipped left photos)."""
    root = tmp_path_factory.mktemp("base")
    make_view_folder(root / "train", ["front", "left"], 6)
    make_view_folder(root / "validation", ["front", "left"], 2, seed=1)
    out = root / "run"
    result = run_in_process("classifier/train_model.py", "--data", root, "--out", out, *TINY)
    assert result.returncode == 0, result.stderr
    return out


def test_init_fine_tunes_and_extends_the_classes(base_run, tmp_path):
    data = tmp_path / "labelled"
    make_view_folder(data / "train", ["front", "left", "other"], 4, seed=2)
    make_view_folder(data / "validation", ["front", "left", "other"], 2, seed=3)
    calibrated = tmp_path / "calibrated_base"
    shutil.copytree(base_run, calibrated)
    info = json.loads((calibrated / "classes.json").read_text())
    (calibrated / "classes.json").write_text(json.dumps({**info, "temperature": 0.6}))
    out = tmp_path / "finetuned"
    result = run_in_process("classifier/train_model.py", "--data", data, "--init", calibrated,
                            "--out", out, "--epochs", "1", "--batch-size", "8")
    assert result.returncode == 0, result.stderr
    assert "new classes other start fresh" in result.stdout
    info = json.loads((out / "classes.json").read_text())
    assert info["classes"] == ["front", "left", "right", "other"]
    assert info["image_size"] == 32
    # a handful of held-back photos cannot calibrate: the --init run's temperature is kept
    assert info["temperature"] == 0.6 and "too few to fit a temperature" in result.stdout
    options = json.loads((out / "options.json").read_text())
    assert options["init"] == str(calibrated) and options["freeze_batch_norm"] is False
    assert options["epochs"] == 1 and options["learning_rate"] == pytest.approx(3e-4)
    report = json.loads((out / "report.json").read_text())
    assert report["images"] == 6 and 0 <= report["accuracy"] <= 1


def test_init_copies_the_weights_and_the_known_output_rows(base_run):
    from classifier.fine_tuning import initialise_from
    from classifier.inference import load_classifier
    from classifier.model import build_model
    base = load_classifier(base_run).model
    classes = ["front", "left", "right", "other"]
    model = build_model("compact", 32, len(classes))
    assert initialise_from(model, base_run, classes) == ["other"]
    np.testing.assert_array_equal(model.get_layer("stem_conv").get_weights()[0],
                                  base.get_layer("stem_conv").get_weights()[0])
    kernel, bias = model.get_layer("probabilities").get_weights()
    old_kernel, old_bias = base.get_layer("probabilities").get_weights()
    np.testing.assert_array_equal(kernel[:, :3], old_kernel)
    np.testing.assert_array_equal(bias[:3], old_bias)
    assert not np.allclose(kernel[:, 3], old_kernel[:, 0])


@pytest.mark.parametrize("init, args, message", [
    ("not_a_run", [], "not a classifier run"),
    ("base", ["--image-size", "48"], "its image size is 32 px, --image-size asks 48"),
    ("base", ["--arch", "seed"], "its network is compact, --arch asks seed"),
    ("base", ["--width", "1"], "its network's width is 1.5, --width asks 1"),
    ("foreign", [], "weights cannot be carried over"),
])
def test_init_errors_are_one_line(base_run, tiny_classifier_run, tmp_path, capsys, init, args,
                                  message):
    from cargen.cli import run_main
    from classifier.train_model import main
    data = make_view_folder(tmp_path / "labelled", ["front", "left"], 3)
    folders = {"base": base_run, "foreign": tiny_classifier_run, "not_a_run": tmp_path}
    with pytest.raises(SystemExit) as stop:
        run_main(main, ["--data", str(data), "--init", str(folders[init]), "--out",
                        str(tmp_path / "run"), "--epochs", "1", *args])
    error = capsys.readouterr().err
    assert stop.value.code == 2
    assert message in error and len(error.strip().splitlines()) == 1
