"""The viewpoint classifier networks: the 2021 `seed` network and the default `compact` CNN.

Every network follows the run-folder contract: input RGB float32 in [0, 255] of shape
(N, S, S, 3), rescaling inside the model, a layer named `features` giving the penultimate
feature vector, and softmax probabilities out.
"""

from cargen.cli import quiet_tensorflow

quiet_tensorflow()
import keras  # noqa: E402  (imported after TensorFlow is quietened)
from keras import layers  # noqa: E402

FEATURE_LAYER = "features"

# Per architecture: its input size, learning rate and channel multiplier when the user gives none.
ARCH_DEFAULTS = {
    "compact": {"image_size": 112, "learning_rate": 3e-3, "width": 1.5},
    "seed": {"image_size": 150, "learning_rate": 1e-3, "width": 1.0},
}
ARCHS = tuple(ARCH_DEFAULTS)


def build_seed_model(image_size, n_classes):
    """The 2021 network: three conv+max-pool stages, flatten, 512 dense, dropout, softmax."""
    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1.0 / 255.0)(inputs)
    for filters in (32, 64, 128):
        x = layers.Conv2D(filters, 3, activation="relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.5)(x)
    x = layers.Dense(512, activation="relu", name=FEATURE_LAYER)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="seed")


def _conv_bn(x, filters, kernel=3, strides=1, name=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding="same", use_bias=False,
                      name=name and name + "_conv")(x)
    x = layers.BatchNormalization(name=name and name + "_bn")(x)
    return layers.ReLU(name=name and name + "_relu")(x)


def _separable_block(x, filters, strides, name):
    """Depthwise 3x3 + pointwise 1x1 (each with batch norm), residual when shapes allow."""
    shortcut = x
    y = layers.DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False,
                               name=name + "_dw")(x)
    y = layers.BatchNormalization(name=name + "_dw_bn")(y)
    y = layers.ReLU(name=name + "_dw_relu")(y)
    y = layers.Conv2D(filters, 1, use_bias=False, name=name + "_pw")(y)
    y = layers.BatchNormalization(name=name + "_pw_bn")(y)
    if strides == 1 and shortcut.shape[-1] == filters:
        y = layers.Add(name=name + "_add")([shortcut, y])
    return layers.ReLU(name=name + "_relu")(y)


def build_compact_model(image_size, n_classes, width, dropout=0.2):
    """The default network: a small batch-normalised CNN with global pooling.

    Two plain 3x3 convolutions at full and half resolution, then depthwise-separable blocks
    (residual where the shape allows) down to 1/16 of the input, global average pooling (the
    `features` layer) and a softmax; `width` multiplies every layer's channels.
    """
    def channels(n):
        return max(8, int(round(n * width / 8)) * 8)

    inputs = keras.Input((image_size, image_size, 3), name="image")
    x = layers.Rescaling(1.0 / 127.5, offset=-1.0)(inputs)
    x = _conv_bn(x, channels(24), strides=2, name="stem")
    x = _conv_bn(x, channels(32), strides=2, name="stage1")
    plan = [(48, 1), (64, 2), (64, 1), (128, 2), (128, 1), (128, 1), (256, 2), (256, 1)]
    for i, (filters, strides) in enumerate(plan):
        x = _separable_block(x, channels(filters), strides, name=f"block{i + 1}")
    x = layers.GlobalAveragePooling2D(name=FEATURE_LAYER)(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="compact")


def build_model(arch, image_size, n_classes, width=None):
    """Build the network `arch` ("compact" or "seed") for `n_classes` views.

    `width` multiplies the compact network's channels (default: the arch's, see
    ARCH_DEFAULTS; the seed network has one width).
    """
    if arch not in ARCH_DEFAULTS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    width = ARCH_DEFAULTS[arch]["width"] if width is None else width
    if arch == "seed":
        if width != ARCH_DEFAULTS["seed"]["width"]:
            raise ValueError("the seed network has no width multiplier")
        return build_seed_model(image_size, n_classes)
    return build_compact_model(image_size, n_classes, width=width)


def multiply_adds(model):
    """Approximate multiply-adds per image of the model's convolution and dense layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            out = layer.output.shape
            spatial = 1
            for dim in out[1:-1]:
                spatial *= dim
            kernel = layer.get_weights()[0].size  # per output position
            total += spatial * kernel
    return int(total)
