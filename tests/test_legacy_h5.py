"""Old models: a 2021 cargen generator saved by TF 2.3 Keras as .h5 loads and generates."""

import json

import h5py
import numpy as np
import pytest
from PIL import Image

from cargen.cli import UsageError, quiet_tensorflow
from generator import generate
from generator.legacy import load_legacy_h5
from generator.sampling import load_generator, sample_latents

LATENT_DIM = 10


def _initializers():
    return {"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}},
            "kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
            "kernel_constraint": None, "bias_constraint": None}


def _deconv(name, filters):
    return {"class_name": "Conv2DTranspose", "config": {
        "name": name, "trainable": True, "dtype": "float32", "filters": filters,
        "kernel_size": [4, 4], "strides": [2, 2], "padding": "same",
        "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
        "activation": "linear", "use_bias": True, **_initializers(), "output_padding": None}}


def _leaky(name):
    return {"class_name": "LeakyReLU", "config": {"name": name, "trainable": True,
                                                  "dtype": "float32", "alpha": 0.2}}


def seed_generator_config(width=16):
    """The 2021 cargen generator as TF 2.3 wrote its model_config (latent 10 -> 56x56x1)."""
    layers = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, LATENT_DIM],
                                                "dtype": "float32", "sparse": False,
                                                "ragged": False, "name": "dense_input"}},
        {"class_name": "Dense", "config": {"name": "dense", "trainable": True,
                                           "batch_input_shape": [None, LATENT_DIM],
                                           "dtype": "float32", "units": width * 7 * 7,
                                           "activation": "linear", "use_bias": True,
                                           **_initializers()}},
        _leaky("leaky_re_lu"),
        {"class_name": "Reshape", "config": {"name": "reshape", "trainable": True,
                                             "dtype": "float32", "target_shape": [7, 7, width]}},
        _deconv("conv2d_transpose", width), _leaky("leaky_re_lu_1"),
        _deconv("conv2d_transpose_1", width), _leaky("leaky_re_lu_2"),
        _deconv("conv2d_transpose_2", width), _leaky("leaky_re_lu_3"),
        {"class_name": "Conv2D", "config": {
            "name": "conv2d", "trainable": True, "dtype": "float32", "filters": 1,
            "kernel_size": [7, 7], "strides": [1, 1], "padding": "same",
            "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1,
            "activation": "tanh", "use_bias": True, **_initializers()}},
    ]
    return {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}


def random_weights(width=16, seed=0):
    """Known weights per layer name, in Keras order (kernel, bias), small enough for tanh."""
    rng = np.random.default_rng(seed)
    shapes = {"dense": [(LATENT_DIM, width * 49), (width * 49,)],
              "conv2d_transpose": [(4, 4, width, width), (width,)],
              "conv2d_transpose_1": [(4, 4, width, width), (width,)],
              "conv2d_transpose_2": [(4, 4, width, width), (width,)],
              "conv2d": [(7, 7, width, 1), (1,)]}
    return {name: [rng.normal(0, 0.15, shape).astype(np.float32) for shape in layer]
            for name, layer in shapes.items()}


def write_legacy_h5(path, config, weights):
    """Write a model file exactly as Keras 2.4 (TF 2.3) `model.save("x.h5")` laid it out."""
    names = [layer["config"]["name"] for layer in config["config"]["layers"]
             if layer["class_name"] != "InputLayer"]
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.4.0"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf-8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = np.array([n.encode() for n in names])
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.4.0"
        for name in names:
            layer_group = group.create_group(name)
            arrays = weights.get(name, [])
            weight_names = [f"{name}/{kind}:0" for kind in ("kernel", "bias")][:len(arrays)]
            layer_group.attrs["weight_names"] = np.array([w.encode() for w in weight_names])
            for weight_name, array in zip(weight_names, arrays):
                layer_group.create_dataset(weight_name, data=array)


def reference_model(weights, width=16):
    """The same network written directly in Keras 3, holding the same weights."""
    quiet_tensorflow()
    import keras
    from keras import layers
    model = keras.Sequential([
        keras.Input((LATENT_DIM,)), layers.Dense(width * 49, name="dense"), layers.LeakyReLU(0.2),
        layers.Reshape((7, 7, width)),
        layers.Conv2DTranspose(width, 4, strides=2, padding="same", name="t0"),
        layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(width, 4, strides=2, padding="same", name="t1"),
        layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(width, 4, strides=2, padding="same", name="t2"),
        layers.LeakyReLU(0.2),
        layers.Conv2D(1, 7, padding="same", activation="tanh", name="out")])
    for name, legacy_name in (("dense", "dense"), ("t0", "conv2d_transpose"),
                              ("t1", "conv2d_transpose_1"), ("t2", "conv2d_transpose_2"),
                              ("out", "conv2d")):
        model.get_layer(name).set_weights(weights[legacy_name])
    return model


@pytest.fixture(scope="module")
def legacy_file(tmp_path_factory):
    """A `model_saved.h5` in the 2021 TF 2.3 layout, and its weights."""
    weights = random_weights()
    path = tmp_path_factory.mktemp("legacy") / "model_saved.h5"
    write_legacy_h5(path, seed_generator_config(), weights)
    return path, weights


def test_legacy_generator_matches_keras3_reference(legacy_file):
    path, weights = legacy_file
    model = load_legacy_h5(path)
    assert model.input_shape == (None, LATENT_DIM)
    assert model.output_shape == (None, 56, 56, 1)
    latents = sample_latents(8, LATENT_DIM, seed=3)
    expected = reference_model(weights).predict(latents, verbose=0)
    actual = model.predict(latents, verbose=0)
    assert expected.std() > 0.05  # the weights make varied images, not a constant
    np.testing.assert_allclose(actual, expected, atol=1e-5)
    generator = load_generator(path)
    assert (generator.latent_dim, generator.image_size, generator.channels) == (10, 56, 1)


def test_generate_draws_from_legacy_h5(legacy_file, tmp_path):
    path, _ = legacy_file
    out = tmp_path / "old"
    generate.main(["--model", str(path), "--n", "9", "--out", str(out), "--grid"])
    images = sorted(out.glob("image_*.png"))
    assert len(images) == 9
    with Image.open(images[0]) as first:
        assert first.size == (56, 56) and first.mode == "L"
    with Image.open(out / "grid.png") as grid:
        assert grid.width > 3 * 56


def test_unsupported_legacy_file_gives_one_line_error(tmp_path):
    config = seed_generator_config()
    config["config"]["layers"][4]["config"]["groups"] = 2
    path = tmp_path / "grouped.h5"
    write_legacy_h5(path, config, random_weights())
    with pytest.raises(UsageError, match="groups=2"):
        load_legacy_h5(path)
    weights = random_weights()
    weights["conv2d"][0] = weights["conv2d"][0][:5]
    write_legacy_h5(path, seed_generator_config(), weights)
    with pytest.raises(UsageError, match="layer conv2d expects weights"):
        load_legacy_h5(path)
    with h5py.File(tmp_path / "weights_only.h5", "w") as f:
        f.create_group("model_weights")
    with pytest.raises(UsageError, match="no model_config"):
        load_legacy_h5(tmp_path / "weights_only.h5")


def functional_config(sequential):
    """The same generator as a Keras 2 functional model config (class "Functional")."""
    layers, previous = [], None
    for layer in sequential["config"]["layers"]:
        name = layer["config"]["name"]
        inbound = [] if previous is None else [[[previous, 0, 0, {}]]]
        layers.append({**layer, "name": name, "inbound_nodes": inbound})
        previous = name
    return {"class_name": "Functional", "config": {
        "name": "generator", "layers": layers, "input_layers": [[layers[0]["name"], 0, 0]],
        "output_layers": [[previous, 0, 0]]}}


def test_functional_legacy_model_loads_too(tmp_path):
    weights = random_weights(seed=5)
    path = tmp_path / "functional.h5"
    write_legacy_h5(path, functional_config(seed_generator_config()), weights)
    latents = sample_latents(4, LATENT_DIM, seed=1)
    np.testing.assert_allclose(load_legacy_h5(path).predict(latents, verbose=0),
                               reference_model(weights).predict(latents, verbose=0), atol=1e-5)
