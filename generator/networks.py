"""DCGAN-style generator and critic sized from the image size (Radford et al. 2016).

The generator maps a standard-normal latent vector through a dense layer to a 4x4 map, doubles
the resolution with stride-2 transposed convolutions (batch norm + ReLU) and ends in tanh, so
its images lie in [-1, 1]. The critic mirrors it: stride-2 convolutions with LeakyReLU (batch
norm after the first layer for the clipped WGAN; layer norm for WGAN-GP, whose penalty is per
sample) down to 4x4, then one linear unit: a Wasserstein critic outputs a score, not a probability.
Weights start from N(0, 0.02) as in DCGAN and the WGAN paper's code.
"""

import keras
from keras import layers

from generator.input import check_image_size

NORMALIZATIONS = ("batch", "layer", "none")


def _filters(image_size, width, max_filters):
    """Filters per resolution from 4x4 up to image_size/2: `width` at the largest, doubling
    toward 4x4, capped at `max_filters`. UsageError unless `image_size` is one the networks
    can double up to (see `generator.input.check_image_size`)."""
    check_image_size(image_size)
    sizes = []
    size = image_size // 2
    while size >= 4:
        sizes.append(size)
        size //= 2
    return {s: min(width * (image_size // 2 // s), max_filters) for s in sizes}


def _init():
    return keras.initializers.RandomNormal(0.0, 0.02)


def _gamma_init():
    return keras.initializers.RandomNormal(1.0, 0.02)


def build_generator(latent_dim=100, image_size=64, channels=3, width=64, max_filters=512):
    """Generator: (N, latent_dim) standard-normal latents -> (N, S, S, channels) in [-1, 1].

    `width` is the filter count of the last hidden block (at S/2); each halving of the
    resolution doubles it, up to `max_filters`.
    """
    filters = _filters(image_size, width, max_filters)
    latents = keras.Input((latent_dim,), name="latents")
    x = layers.Dense(4 * 4 * filters[4], use_bias=False, kernel_initializer=_init())(latents)
    x = layers.Reshape((4, 4, filters[4]))(x)
    x = layers.BatchNormalization(momentum=0.9, gamma_initializer=_gamma_init())(x)
    x = layers.ReLU()(x)
    size = 8
    while size < image_size:
        x = layers.Conv2DTranspose(filters[size], 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_init())(x)
        x = layers.BatchNormalization(momentum=0.9, gamma_initializer=_gamma_init())(x)
        x = layers.ReLU()(x)
        size *= 2
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=_init())(x)
    images = layers.Activation("tanh", dtype="float32", name="images")(x)
    return keras.Model(latents, images, name="generator")


def build_critic(image_size=64, channels=3, width=64, normalization="batch", max_filters=512):
    """Critic: (N, S, S, channels) images in [-1, 1] -> (N, 1) unbounded scores.

    `normalization` after every convolution but the first: "batch" (DCGAN, used with weight
    clipping), "layer" (per-sample, what WGAN-GP recommends instead of batch norm, whose
    cross-sample mixing breaks the per-sample gradient penalty) or "none". Convolutions have
    no bias (the normalisation's offset takes its place, as in DCGAN's reference code).
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}")
    filters = _filters(image_size, width, max_filters)
    images = keras.Input((image_size, image_size, channels), name="images")
    x = images
    size = image_size // 2
    while size >= 4:
        x = layers.Conv2D(filters[size], 4, strides=2, padding="same", use_bias=False,
                          kernel_initializer=_init())(x)
        if size != image_size // 2 and normalization == "batch":
            x = layers.BatchNormalization(momentum=0.9, gamma_initializer=_gamma_init())(x)
        elif size != image_size // 2 and normalization == "layer":
            x = layers.LayerNormalization(axis=(1, 2, 3), gamma_initializer=_gamma_init())(x)
        x = layers.LeakyReLU(0.2)(x)
        size //= 2
    x = layers.Flatten()(x)
    scores = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="score")(x)
    return keras.Model(images, scores, name="critic")


def forward_flops(model):
    """Multiply-adds x 2 of one image's forward pass through the dense and conv layers."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += 2 * layer.kernel.shape[0] * layer.kernel.shape[1]
        elif isinstance(layer, layers.Conv2DTranspose):
            h, w, c_in = layer.input.shape[1:]
            k = layer.kernel.shape
            total += 2 * h * w * c_in * k[0] * k[1] * k[2]
        elif isinstance(layer, layers.Conv2D):
            h, w, c_out = layer.output.shape[1:]
            k = layer.kernel.shape
            total += 2 * h * w * c_out * k[0] * k[1] * k[2]
    return total
