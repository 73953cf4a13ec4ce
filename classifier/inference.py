"""Loading a trained viewpoint classifier from its run folder and predicting with it.

A run folder holds `model.keras` (RGB float32 in [0, 255] of shape (N, S, S, 3) to softmax
probabilities, with a layer named `features` giving the penultimate feature vector) and
`classes.json` (ordered class names, input size, how images are made square, the calibration
temperature, and whether and when to average over a horizontal flip). Every script that uses a
trained classifier goes through `load_classifier`.
"""

import json
from pathlib import Path

import numpy as np

from cargen.cli import UsageError, quiet_tensorflow
from cargen.images import FIT_MODES
from cargen.safe_files import write_json
from cargen.views import VIEWS, mirror_permutation

MODEL_FILE = "model.keras"
CLASSES_FILE = "classes.json"
FEATURE_LAYER = "features"


def write_classes_json(run_dir, classes, image_size, fit, temperature=1.0, flip_average=False,
                       flip_average_below=1.0, **extra):
    """Write `classes.json` into `run_dir`: everything a user of the model needs besides it.

    With `flip_average`, a photo whose calibrated confidence is below `flip_average_below`
    (1 = every photo) is predicted again mirrored and the two predictions averaged.
    """
    info = {
        "classes": list(classes),
        "image_size": int(image_size),
        "fit": fit,
        "temperature": float(temperature),
        "flip_average": bool(flip_average),
        "flip_average_below": float(flip_average_below),
        "input": "RGB float32 in [0, 255], shape (N, image_size, image_size, 3)",
        "feature_layer": FEATURE_LAYER,
        **extra,
    }
    path = Path(run_dir) / CLASSES_FILE
    write_json(path, info)
    return info


def check_run_folder(run_dir):
    """Read and check `run_dir/classes.json`; raise UsageError (one line) if anything is off."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: model folder not found")
    for name in (MODEL_FILE, CLASSES_FILE):
        if not (run_dir / name).is_file():
            raise UsageError(f"{run_dir}: incomplete model folder, {name} is missing")
    try:
        info = json.loads((run_dir / CLASSES_FILE).read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{run_dir / CLASSES_FILE}: unreadable ({error})") from None
    classes = info.get("classes")
    if not isinstance(classes, list) or not classes:
        raise UsageError(f"{run_dir / CLASSES_FILE}: no class list")
    unknown = [name for name in classes if name not in VIEWS]
    if unknown:
        raise UsageError(f"{run_dir / CLASSES_FILE}: unknown classes {unknown}")
    if not isinstance(info.get("image_size"), int) or info["image_size"] < 8:
        raise UsageError(f"{run_dir / CLASSES_FILE}: bad image_size {info.get('image_size')!r}")
    if info.get("fit", "stretch") not in FIT_MODES:
        raise UsageError(f"{run_dir / CLASSES_FILE}: bad fit {info.get('fit')!r}")
    below = info.get("flip_average_below", 1.0)
    if not isinstance(below, (int, float)) or not 0 < below <= 1:
        raise UsageError(f"{run_dir / CLASSES_FILE}: flip_average_below must be in (0, 1], "
                         f"not {below!r}")
    return info


class ViewClassifier:
    """A loaded classifier: calibrated batch prediction, features, and its input pipeline."""

    def __init__(self, model, info, run_dir=None):
        self.model = model
        self.info = info
        self.run_dir = Path(run_dir) if run_dir else None
        self.classes = list(info["classes"])
        self.image_size = int(info["image_size"])
        self.fit = info.get("fit", "stretch")
        self.temperature = float(info.get("temperature", 1.0))
        self.flip_average = bool(info.get("flip_average", False))
        self.flip_average_below = float(info.get("flip_average_below", 1.0))
        self._mirror = np.array(mirror_permutation(self.classes))
        tf = quiet_tensorflow()
        self._predict_fn = tf.function(self._probabilities, reduce_retracing=True)
        self._traced = set()
        feature_model = None
        try:
            layer = model.get_layer(FEATURE_LAYER)
            import keras
            feature_model = keras.Model(model.inputs, layer.output)
        except ValueError:
            pass
        self._feature_model = feature_model
        self._features_fn = (tf.function(lambda x: feature_model(x, training=False),
                                         reduce_retracing=True) if feature_model else None)

    def _calibrated(self, probs, temperature):
        tf = quiet_tensorflow()
        if temperature == 1.0:
            return probs
        return tf.nn.softmax(tf.math.log(tf.maximum(probs, 1e-12)) / temperature, axis=-1)

    def _probabilities(self, images, flip, below, temperature):
        tf = quiet_tensorflow()
        images = tf.cast(images, tf.float32)
        probs = self.model(images, training=False)
        if flip and below >= 1.0:
            flipped = self.model(images[:, :, ::-1, :], training=False)
            probs = (probs + tf.gather(flipped, self._mirror, axis=1)) / 2.0
        elif flip:
            confidence = tf.reduce_max(self._calibrated(probs, temperature), axis=1)
            unsure = tf.where(confidence < below)

            def second_pass():
                mirrored = tf.gather(images, unsure[:, 0])[:, :, ::-1, :]
                flipped = tf.gather(self.model(mirrored, training=False), self._mirror, axis=1)
                averaged = (tf.gather_nd(probs, unsure) + flipped) / 2.0
                return tf.tensor_scatter_nd_update(probs, unsure, averaged)

            # an empty batch would crash oneDNN's fused convolutions
            probs = tf.cond(tf.shape(unsure)[0] > 0, second_pass, lambda: probs)
        return self._calibrated(probs, temperature)

    def predict(self, images, flip_average=None):
        """Calibrated class probabilities (numpy, (N, n_classes)) for a uint8 or float batch.

        With `flip_average` (default: the model's setting) the probabilities of the mirrored
        image, mapped back through the mirror map, are averaged in for every image whose
        calibrated confidence is below `flip_average_below` (1 = every image): a sure
        prediction is not worth a second pass.
        """
        flip = self.flip_average if flip_average is None else bool(flip_average)
        return self._call_any_batch_size(self._predict_fn, images, flip,
                                         self.flip_average_below, self.temperature)

    def features(self, images):
        """Penultimate-layer features (numpy, (N, D)) for a batch of images."""
        if self._features_fn is None:
            raise UsageError(f"{self.run_dir}: model has no '{FEATURE_LAYER}' layer")
        return self._call_any_batch_size(self._features_fn, images)

    def _call_any_batch_size(self, function, images, *args):
        """`function(images, *args)` as numpy, traced once for batches of any size: a sort's
        last, smaller batch would otherwise trace it again, a pause as long as predicting a few
        hundred photos."""
        tf = quiet_tensorflow()
        images = tf.convert_to_tensor(images)
        key = (id(function), images.dtype, tuple(images.shape[1:]), args)
        if key not in self._traced:
            function.get_concrete_function(
                tf.TensorSpec([None, *images.shape[1:]], images.dtype), *args)
            self._traced.add(key)
        return function(images, *args).numpy()

    def dataset(self, paths, batch_size=64):
        """tf.data of `(images, indices, ok)` batches decoded and resized for this model."""
        from cargen.pipeline import image_dataset, prediction_batches
        return prediction_batches(image_dataset(paths, self.image_size, self.fit), batch_size)


def load_classifier(run_dir):
    """Load the classifier in `run_dir` (model.keras + classes.json) as a `ViewClassifier`."""
    info = check_run_folder(run_dir)
    quiet_tensorflow()
    import keras
    path = Path(run_dir) / MODEL_FILE
    # Layers saved as float32 would take a mixed global policy (a generator trained with
    # --mixed-precision) and predict in bfloat16, less accurately; the classifier stays float32.
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a bad file; all mean the same here
        raise UsageError(f"{path}: cannot load the model ({type(error).__name__}: "
                         f"{str(error).splitlines()[0] if str(error) else ''})") from None
    finally:
        keras.mixed_precision.set_global_policy(policy)
    classes = info["classes"]
    if model.output_shape[-1] != len(classes):
        raise UsageError(f"{path}: model has {model.output_shape[-1]} outputs but "
                         f"{CLASSES_FILE} lists {len(classes)} classes")
    return ViewClassifier(model, info, run_dir)
