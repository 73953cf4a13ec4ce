"""Loading a Keras 2 (TensorFlow 2.x, 2019-2022) HDF5 model such as the 2021 cargen generator.

Keras 3 cannot deserialize those files directly: their layer configs carry keys it no longer
accepts (`groups` on Conv2DTranspose, `alpha` on LeakyReLU, `batch_input_shape`, ...). This
module rebuilds the model instead: it reads the `model_config` JSON from the file's root
attributes with h5py, creates each layer from its class name and the config keys Keras 3
accepts, and copies the weights from the legacy `model_weights/<layer>/<weight>` datasets into
the rebuilt layers by name, checking every shape. Sequential models (the seed's generator) and
simple functional models (each layer used once) are supported; anything else gives a one-line
error.
"""

import inspect
import json
from pathlib import Path

import numpy as np

from cargen.cli import UsageError, quiet_tensorflow

# Layer classes renamed between Keras 1/2 and Keras 3.
CLASS_ALIASES = {
    "Convolution2D": "Conv2D",
    "Deconvolution2D": "Conv2DTranspose",
    "Deconv2D": "Conv2DTranspose",
    "Convolution2DTranspose": "Conv2DTranspose",
}
# Config keys renamed between Keras 2 and Keras 3, per layer class.
RENAMED_KEYS = {
    "LeakyReLU": {"alpha": "negative_slope"},
}
# Base-layer keyword arguments every Keras 3 layer accepts.
BASE_KEYS = {"name", "trainable", "dtype"}
# Keys that only shape training (weights are loaded from the file), dropped so that old
# initializer or regularizer configs never stop a model from loading.
TRAINING_ONLY_SUFFIXES = ("_initializer", "_regularizer", "_constraint")
SEQUENTIAL_NAMES = {"Sequential"}
FUNCTIONAL_NAMES = {"Functional", "Model"}


def _text(value):
    """An HDF5 attribute as str (h5py returns bytes for files written by old Keras)."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _names(values):
    return [_text(v) for v in values]


def read_legacy_file(path):
    """Return `(model_config, keras_version, weights)` from a Keras 2 .h5 model file.

    `weights` maps a layer name to the list of its weight arrays in the file's order.
    """
    import h5py
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise UsageError(f"{path}: not an HDF5 model file ({error})") from None
    with handle:
        if "model_config" not in handle.attrs:
            raise UsageError(f"{path}: no model_config in the file (a weights-only file?); "
                             "save the whole generator with model.save(...)")
        try:
            config = json.loads(_text(handle.attrs["model_config"]))
        except ValueError as error:
            raise UsageError(f"{path}: unreadable model_config ({error})") from None
        version = _text(handle.attrs.get("keras_version", "unknown"))
        group = handle["model_weights"] if "model_weights" in handle else None
        if group is None:
            raise UsageError(f"{path}: no model_weights group in the file")
        weights = {}
        for layer_name in _names(group.attrs.get("layer_names", [])):
            layer_group = group[layer_name]
            weight_names = _names(layer_group.attrs.get("weight_names", []))
            weights[layer_name] = [np.asarray(layer_group[name]) for name in weight_names]
    return config, version, weights


def _dtype(value):
    if isinstance(value, dict):
        return value.get("config", {}).get("name", "float32")
    return value


def _input_shape(layer_configs):
    """The per-sample input shape from an InputLayer or the first layer's batch_input_shape."""
    for layer in layer_configs[:2]:
        config = layer.get("config", {})
        for key in ("batch_input_shape", "batch_shape"):
            if config.get(key):
                return tuple(config[key][1:])
        if config.get("input_dim"):
            return (config["input_dim"],)
    return None


def rebuild_layer(layer_config, source="model"):
    """Create a Keras 3 layer from a Keras 2 layer config (class name + config dict)."""
    quiet_tensorflow()
    import keras
    class_name = CLASS_ALIASES.get(layer_config.get("class_name"), layer_config.get("class_name"))
    if class_name in SEQUENTIAL_NAMES | FUNCTIONAL_NAMES:
        raise UsageError(f"{source}: nested model '{layer_config.get('config', {}).get('name')}'"
                         " inside the model; save the generator on its own")
    cls = getattr(keras.layers, str(class_name), None)
    if not (inspect.isclass(cls) and issubclass(cls, keras.layers.Layer)):
        raise UsageError(f"{source}: layer class {class_name!r} is not known to Keras 3")
    accepted = {name for name in inspect.signature(cls.__init__).parameters
                if name not in ("self", "kwargs")} | BASE_KEYS
    renames = RENAMED_KEYS.get(class_name, {})
    config = {}
    for key, value in layer_config.get("config", {}).items():
        key = renames.get(key, key)
        if key.endswith(TRAINING_ONLY_SUFFIXES) or key == "activity_regularizer":
            continue
        if key == "groups" and key not in accepted and value not in (1, None):
            raise UsageError(f"{source}: layer {layer_config['config'].get('name')} uses "
                             f"groups={value}, which Keras 3 {class_name} does not support")
        if key in accepted:
            config[key] = value
    if "dtype" in config:
        config["dtype"] = _dtype(config["dtype"])
    if isinstance(config.get("axis"), list) and len(config["axis"]) == 1:
        config["axis"] = config["axis"][0]
    try:
        return cls(**config)
    except (TypeError, ValueError) as error:
        raise UsageError(f"{source}: cannot rebuild layer {config.get('name')} "
                         f"({class_name}): {error}") from None


def _rebuild_sequential(config, source):
    quiet_tensorflow()
    import keras
    layer_configs = config if isinstance(config, list) else config.get("layers", [])
    shape = _input_shape(layer_configs)
    if shape is None and isinstance(config, dict) and config.get("build_input_shape"):
        shape = tuple(config["build_input_shape"][1:])
    if shape is None:
        raise UsageError(f"{source}: the model config does not say its input shape")
    layers = [rebuild_layer(layer, source) for layer in layer_configs
              if layer.get("class_name") != "InputLayer"]
    name = config.get("name", "legacy_model") if isinstance(config, dict) else "legacy_model"
    return keras.Sequential([keras.Input(shape)] + layers, name=name)


def _rebuild_functional(config, source):
    """A Keras 2 functional model: layers in config order, each called on its inbound layers
    (Keras 2 lists nodes as [[layer_name, node_index, tensor_index, kwargs], ...])."""
    quiet_tensorflow()
    import keras
    tensors = {}
    for layer_config in config.get("layers", []):
        name = layer_config.get("name") or layer_config.get("config", {}).get("name")
        if layer_config.get("class_name") == "InputLayer":
            shape = _input_shape([layer_config])
            if shape is None:
                raise UsageError(f"{source}: input layer {name} has no shape")
            tensors[name] = keras.Input(shape, name=name)
            continue
        nodes = layer_config.get("inbound_nodes") or []
        if len(nodes) != 1 or not isinstance(nodes[0], list):
            raise UsageError(f"{source}: layer {name} is shared or in an unknown node format; "
                             "only simple Keras 2 functional models can be rebuilt")
        try:
            inputs = [tensors[node[0]] for node in nodes[0]]
        except (KeyError, IndexError, TypeError):
            raise UsageError(f"{source}: layer {name} has an unreadable input list") from None
        layer = rebuild_layer(layer_config, source)
        tensors[name] = layer(inputs[0] if len(inputs) == 1 else inputs)
    try:
        inputs = [tensors[item[0]] for item in config["input_layers"]]
        outputs = [tensors[item[0]] for item in config["output_layers"]]
    except (KeyError, IndexError, TypeError):
        raise UsageError(f"{source}: the model config has no readable inputs/outputs") from None
    return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                       outputs[0] if len(outputs) == 1 else outputs,
                       name=config.get("name", "legacy_model"))


def rebuild_model(model_config, source="model"):
    """Build an unweighted Keras 3 model from a Keras 2 `model_config` (Sequential, or a
    functional model whose layers are each used once)."""
    class_name = model_config.get("class_name")
    config = model_config.get("config", {})
    if class_name in SEQUENTIAL_NAMES:
        return _rebuild_sequential(config, source)
    if class_name in FUNCTIONAL_NAMES:
        return _rebuild_functional(config, source)
    raise UsageError(f"{source}: a {class_name} model; only Sequential and functional Keras "
                     "models can be rebuilt")


def set_legacy_weights(model, weights, source="model"):
    """Copy `weights` (layer name -> arrays in file order) into the layers of `model`."""
    with_weights = {layer.name: layer for layer in model.layers if layer.weights}
    missing = [name for name in with_weights if name not in weights or not weights[name]]
    if missing:
        raise UsageError(f"{source}: no weights in the file for layer(s) {', '.join(missing)}")
    for layer_name, arrays in weights.items():
        if not arrays:
            continue
        layer = with_weights.get(layer_name)
        if layer is None:
            raise UsageError(f"{source}: the file has weights for layer {layer_name}, "
                             "which the model config does not have")
        expected = [tuple(w.shape) for w in layer.weights]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            raise UsageError(f"{source}: layer {layer_name} expects weights {expected}, "
                             f"the file has {found}")
        layer.set_weights(arrays)


def load_legacy_h5(path):
    """Load a Keras 2 HDF5 model (e.g. the 2021 cargen `model_saved.h5`) as a Keras 3 model.

    A .h5 file written by Keras 3 itself is loaded by Keras.
    """
    config, version, weights = read_legacy_file(path)
    if version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 3:
        import keras
        try:
            return keras.models.load_model(path, compile=False)
        except Exception as error:  # Keras raises many types for a bad file
            raise UsageError(f"{path}: cannot load the Keras {version} model "
                             f"({type(error).__name__})") from None
    model = rebuild_model(config, source=str(path))
    set_legacy_weights(model, weights, source=str(path))
    return model
