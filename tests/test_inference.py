"""Loading a classifier run folder and predicting with calibration and flip averaging."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from cargen.cli import UsageError
from cargen.views import VIEWS, mirror_view
from classifier.inference import load_classifier, write_classes_json


def test_predict_gives_probabilities(tiny_classifier_run):
    classifier = load_classifier(tiny_classifier_run)
    assert classifier.classes == list(VIEWS)
    images = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    probs = classifier.predict(images)
    assert probs.shape == (5, 9)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert classifier.features(images).shape == (5, 16)


def test_flip_average_is_mirror_consistent(tiny_classifier_run):
    classifier = load_classifier(tiny_classifier_run)
    images = np.random.default_rng(1).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    probs = classifier.predict(images, flip_average=True)
    mirrored = classifier.predict(images[:, :, ::-1], flip_average=True)
    order = [VIEWS.index(mirror_view(view)) for view in VIEWS]
    np.testing.assert_allclose(probs, mirrored[:, order], atol=1e-5)


def test_flip_average_only_below_the_cut_off(tiny_classifier_run):
    classifier = load_classifier(tiny_classifier_run)
    images = np.random.default_rng(3).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    images[:4] //= 4
    plain = classifier.predict(images, flip_average=False)
    full = classifier.predict(images, flip_average=True)
    cut = float(np.median(plain.max(axis=1)))
    classifier.flip_average_below = cut
    mixed = classifier.predict(images, flip_average=True)
    unsure = plain.max(axis=1) < cut
    assert 0 < unsure.sum() < len(images)
    np.testing.assert_allclose(mixed[unsure], full[unsure], atol=1e-5)
    np.testing.assert_allclose(mixed[~unsure], plain[~unsure], atol=1e-6)
    classifier.flip_average_below = 1e-3  # no photo is that unsure: no second pass at all
    np.testing.assert_allclose(classifier.predict(images, flip_average=True), plain, atol=1e-6)


def test_every_batch_size_shares_one_trace(tiny_classifier_run):
    classifier = load_classifier(tiny_classifier_run)
    images = np.random.default_rng(4).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    whole = classifier.predict(images)
    parts = np.concatenate([classifier.predict(images[:5]), classifier.predict(images[5:])])
    np.testing.assert_allclose(parts, whole, atol=1e-5)
    for size in (8, 3, 1):
        classifier.features(images[:size])
    assert classifier._predict_fn.experimental_get_tracing_count() == 1
    assert classifier._features_fn.experimental_get_tracing_count() == 1


def test_temperature_softens(tiny_classifier_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_classifier_run, run)
    images = np.random.default_rng(2).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    sharp = load_classifier(run).predict(images)
    write_classes_json(run, VIEWS, 32, "stretch", temperature=4.0)
    soft = load_classifier(run).predict(images)
    assert soft.max(axis=1).mean() < sharp.max(axis=1).mean()
    np.testing.assert_array_equal(soft.argmax(axis=1), sharp.argmax(axis=1))


def test_dataset_decodes_for_the_model(tiny_classifier_run, tmp_path):
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.jpg")
        Image.new("RGB", (64, 48), (i * 50, 80, 90)).save(paths[-1])
    images, indices, ok = next(iter(load_classifier(tiny_classifier_run).dataset(paths, 8)))
    assert images.shape == (3, 32, 32, 3) and list(indices.numpy()) == [0, 1, 2]


@pytest.mark.parametrize("damage,message", [
    ("missing", "model folder not found"),
    ("no_model", "model.keras is missing"),
    ("bad_json", "unreadable"),
    ("bad_class", "unknown classes"),
])
def test_bad_run_folders_give_one_line_errors(tiny_classifier_run, tmp_path, damage, message):
    run = tmp_path / "run"
    if damage != "missing":
        shutil.copytree(tiny_classifier_run, run)
    if damage == "no_model":
        (run / "model.keras").unlink()
    if damage == "bad_json":
        (run / "classes.json").write_text("{nope")
    if damage == "bad_class":
        info = json.loads((run / "classes.json").read_text())
        info["classes"][0] = "sideways"
        (run / "classes.json").write_text(json.dumps(info))
    with pytest.raises(UsageError, match=message):
        load_classifier(run)


def test_loads_in_float32_under_a_mixed_precision_policy(tiny_classifier_run):
    import keras
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        classifier = load_classifier(tiny_classifier_run)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert {layer.dtype_policy.name for layer in classifier.model.layers} == {"float32"}
