"""Shared test fixtures: a small valid classifier run folder."""

import pytest

from cargen.cli import quiet_tensorflow
from cargen.views import VIEWS


def build_tiny_classifier(image_size, n_classes, seed=0):
    """A small untrained CNN following the run-folder contract (input RGB 0..255, softmax,
    a `features` layer)."""
    quiet_tensorflow()
    import keras
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((image_size, image_size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="features")(x)
    outputs = keras.layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


@pytest.fixture(scope="session")
def tiny_classifier_run(tmp_path_factory):
    """Path of a run folder holding an untrained 32 px classifier over all nine views."""
    from classifier.inference import write_classes_json
    run_dir = tmp_path_factory.mktemp("tiny_classifier")
    build_tiny_classifier(32, len(VIEWS)).save(run_dir / "model.keras")
    write_classes_json(run_dir, VIEWS, 32, "stretch")
    return run_dir
