"""Evaluating a generator with the classifier: view fidelity, FD-classifier, KID, diversity."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_generators import build_tiny_generator, write_generator_run

from cargen.cli import UsageError, quiet_tensorflow
from cargen.views import VIEWS
from classifier.inference import load_classifier, write_classes_json
from generator.quality import (
    evaluate_generator,
    frechet_distance,
    kernel_inception_distance,
    mean_pairwise_distance,
    real_statistics,
)

REPO = Path(__file__).resolve().parents[1]
KEYS = {"view_fidelity", "real_view_fidelity", "fd_classifier", "kid", "diversity",
        "real_diversity", "n_generated", "n_real", "seconds"}


@pytest.fixture(scope="module")
def real_folder(tmp_path_factory):
    """data/pictures-like folder: 40 random 48x36 photos and one corrupt file in front_left/."""
    folder = tmp_path_factory.mktemp("pictures")
    (folder / "front_left").mkdir()
    rng = np.random.default_rng(0)
    for i in range(40):
        pixels = rng.integers(0, 256, (36, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "front_left" / f"car_{i:02d}.jpg")
    (folder / "front_left" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


@pytest.fixture(scope="module")
def sure_classifier_run(tmp_path_factory):
    """A classifier that calls every image front_left with confidence ~1 (for fidelity)."""
    quiet_tensorflow()
    import keras
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    bias = np.full(len(VIEWS), -10.0, np.float32)
    bias[VIEWS.index("front_left")] = 10.0
    outputs = keras.layers.Dense(len(VIEWS), activation="softmax", kernel_initializer="zeros",
                                 bias_initializer=keras.initializers.Constant(bias))(features)
    run_dir = tmp_path_factory.mktemp("sure_classifier")
    keras.Model(inputs, outputs).save(run_dir / "model.keras")
    write_classes_json(run_dir, VIEWS, 32, "stretch")
    return run_dir


def test_frechet_distance_matches_closed_form():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0, 1.0, (20000, 4))
    b = rng.normal(0.5, 2.0, (20000, 4))  # FD = |0.5|^2 * 4 + 4 * (1 + 4 - 2 * 2) = 5
    assert frechet_distance(a, b) == pytest.approx(5.0, rel=0.05)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_kid_and_diversity():
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, (300, 8)), rng.normal(0, 1, (300, 8))
    assert abs(kernel_inception_distance(a, b, subsets=10)) < 0.05
    assert kernel_inception_distance(a, b + 1.0, subsets=10) > 0.5
    x = rng.normal(0, 1, (30, 5))
    brute = np.mean([np.linalg.norm(x[i] - x[j]) for i in range(30) for j in range(30) if i != j])
    assert mean_pairwise_distance(x) == pytest.approx(brute)
    assert mean_pairwise_distance(np.ones((10, 5))) == pytest.approx(0.0, abs=1e-6)


def test_view_fidelity_counts_confident_target_views(sure_classifier_run, real_folder):
    classifier = load_classifier(sure_classifier_run)
    # grayscale and 16 px: repeated to RGB and enlarged to the classifier's 32 px
    generator = build_tiny_generator(image_size=16, channels=1)
    paths = sorted((real_folder / "front_left").glob("car_*.jpg"))
    result = evaluate_generator(generator, classifier, paths, "front_left", n=20, batch_size=8)
    assert KEYS <= set(result)
    assert result["view_fidelity"] == 1.0 and result["real_view_fidelity"] == 1.0
    real = real_statistics(classifier, paths, "rear", image_size=16, fit="pad", channels=1)
    assert evaluate_generator(generator, classifier, real, "rear", n=20)["view_fidelity"] == 0.0
    with pytest.raises(UsageError, match="made for a 16 px, 1-channel generator"):
        evaluate_generator(build_tiny_generator(), classifier, real, "rear", n=20)
    with pytest.raises(UsageError, match="no class 'sideways'"):
        evaluate_generator(generator, classifier, paths, "sideways", n=20)


def test_diversity_exposes_mode_collapse(tiny_classifier_run, real_folder):
    classifier = load_classifier(tiny_classifier_run)
    paths = sorted((real_folder / "front_left").glob("car_*.jpg"))
    real = real_statistics(classifier, paths, "front_left")
    healthy = evaluate_generator(build_tiny_generator(), classifier, real, "front_left", n=40)
    collapsed = evaluate_generator(build_tiny_generator(collapsed=True), classifier, real,
                                   "front_left", n=40)
    assert collapsed["diversity"] < 1e-3 * healthy["diversity"]
    assert healthy["diversity"] > 0.2 * healthy["real_diversity"]
    assert collapsed["fd_classifier"] >= 0 and healthy["fd_classifier"] >= 0


def test_evaluate_script_writes_eval_json(tiny_classifier_run, real_folder, tmp_path):
    run = write_generator_run(tmp_path / "front_left_run", build_tiny_generator())
    result = subprocess.run(
        [sys.executable, "generator/evaluate.py", "--model", str(run), "--classifier",
         str(tiny_classifier_run), "--real", str(real_folder), "--n", "50"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "view fidelity (front_left" in result.stdout and "FD-classifier" in result.stdout
    report = json.loads((run / "eval.json").read_text())
    assert KEYS <= set(report)
    assert report["n_generated"] == 50 and report["view"] == "front_left"
    assert report["n_real"] == 40 and report["n_real_unreadable"] == 1  # broken.jpg skipped
    assert (report["real_image_size"], report["real_fit"]) == (32, "pad")  # as the generator's
    assert 0 <= report["view_fidelity"] <= 1 and 0 <= report["real_view_fidelity"] <= 1
    assert np.isfinite([report["fd_classifier"], report["kid"], report["diversity"]]).all()


def test_real_photos_are_prepared_like_the_generators_images(tiny_classifier_run, real_folder):
    from cargen.aspect import content_aspect, unpad
    from cargen.images import load_square
    from generator.quality import fit_for_classifier
    classifier = load_classifier(tiny_classifier_run)
    paths = sorted((real_folder / "front_left").glob("car_*.jpg"))[:5]
    stats = real_statistics(classifier, paths, "front_left", image_size=16, fit="pad")
    # padded like the generator's images, then the bands cut off for a stretch classifier
    assert classifier.fit == "stretch" and stats.aspect == content_aspect(paths) > 1
    padded = np.stack([load_square(p, 16, "pad") for p in paths])
    by_hand = fit_for_classifier(unpad(padded, stats.aspect), 32, "stretch")
    np.testing.assert_allclose(stats.features, classifier.features(by_hand), atol=1e-5)


def test_picture_shape_undoes_padding_or_stretching():
    from cargen.aspect import picture_shape
    images = np.zeros((2, 16, 16, 3), np.uint8)
    assert picture_shape(images, "pad", 2.0).shape == (2, 8, 16, 3)
    assert picture_shape(images, "stretch", 2.0).shape == (2, 16, 32, 3)
    assert picture_shape(images, "crop", 2.0) is images
    assert picture_shape(images, "stretch", None) is images


def test_unpad_cuts_the_padding_bands():
    from cargen.aspect import unpad
    images = np.zeros((2, 16, 16, 3), np.uint8)
    assert unpad(images, 4 / 3).shape == (2, 12, 16, 3)
    assert unpad(images, 0.5).shape == (2, 16, 8, 3)
    assert unpad(images, 1.0).shape == (2, 16, 16, 3) and unpad(images, None) is images
