"""DCGAN-style generator and critic sized from the image size (Radford et al. 2016).

The generator maps a standard-normal latent vector through a dense layer to a 4x4 map, doubles
the resolution with stride-2 transposed convolutions (batch norm + ReLU) and ends in tanh, so
its images lie in [-1, 1]. The critic mirrors it: stride-2 convolutions with LeakyReLU (batch
norm after the first layer for the clipped WGAN; layer norm for WGAN-GP, whose penalty is per
sample) down to 4x4, then one linear unit: a Wasserstein critic outputs a score, not a probability.
Weights start from N(0, 0.02) as in DCGAN and the WGAN paper's code.

The conditional pair (one generator for every view) takes view ids beside the inputs: the
generator concatenates a learned view embedding to the latents before its dense layer (and with
conditioning "batchnorm" every batch norm also takes its scale and offset from the view, the
conditional batch norm of Miyato and Koyama's generator), and the projection critic (Miyato and
Koyama 2018) scores linear(h) + <embed(view), h> on its last features h.
"""

import keras
from keras import layers

from generator.conditional_input import CONDITIONINGS
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


def _batch_norm(x, condition=None):
    """Batch norm of `x`; with `condition` = (view ids, number of views), its scale and offset
    are looked up per view."""
    if condition is None:
        return layers.BatchNormalization(momentum=0.9, gamma_initializer=_gamma_init())(x)
    view_ids, n_views = condition
    channels = x.shape[-1]
    x = layers.BatchNormalization(momentum=0.9, center=False, scale=False)(x)
    scale = layers.Embedding(n_views, channels, embeddings_initializer=_gamma_init())(view_ids)
    offset = layers.Embedding(n_views, channels, embeddings_initializer="zeros")(view_ids)
    scale = layers.Reshape((1, 1, channels))(scale)
    offset = layers.Reshape((1, 1, channels))(offset)
    return layers.Add()([layers.Multiply()([x, scale]), offset])


def _generator_body(x, image_size, channels, width, max_filters, condition=None):
    """The generator from its dense layer's input `x` to tanh images (with `condition`, its
    batch norms are conditional on the view: see `_batch_norm`)."""
    filters = _filters(image_size, width, max_filters)
    x = layers.Dense(4 * 4 * filters[4], use_bias=False, kernel_initializer=_init())(x)
    x = layers.Reshape((4, 4, filters[4]))(x)
    x = _batch_norm(x, condition)
    x = layers.ReLU()(x)
    size = 8
    while size < image_size:
        x = layers.Conv2DTranspose(filters[size], 4, strides=2, padding="same", use_bias=False,
                                   kernel_initializer=_init())(x)
        x = _batch_norm(x, condition)
        x = layers.ReLU()(x)
        size *= 2
    x = layers.Conv2DTranspose(channels, 4, strides=2, padding="same", kernel_initializer=_init())(x)
    return layers.Activation("tanh", dtype="float32", name="images")(x)


def build_generator(latent_dim=100, image_size=64, channels=3, width=64, max_filters=512):
    """Generator: (N, latent_dim) standard-normal latents -> (N, S, S, channels) in [-1, 1].

    `width` is the filter count of the last hidden block (at S/2); each halving of the
    resolution doubles it, up to `max_filters`.
    """
    latents = keras.Input((latent_dim,), name="latents")
    images = _generator_body(latents, image_size, channels, width, max_filters)
    return keras.Model(latents, images, name="generator")


def build_conditional_generator(latent_dim, n_views, image_size=64, channels=3, width=64,
                                max_filters=512, conditioning="input"):
    """Generator of every view: [(N, latent_dim) latents, (N,) int view ids] -> (N, S, S, C).

    A learned `latent_dim`-long embedding of the view is concatenated to the latents; the rest
    is `build_generator`'s network, whose batch norms with `conditioning` "batchnorm" take a
    learned scale and offset per view.
    """
    if conditioning not in CONDITIONINGS:
        raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}")
    latents = keras.Input((latent_dim,), name="latents")
    view_ids = keras.Input((), dtype="int32", name="view_ids")
    embedded = layers.Embedding(n_views, latent_dim, name="view_embedding")(view_ids)
    x = layers.Concatenate()([latents, embedded])
    images = _generator_body(x, image_size, channels, width, max_filters,
                             (view_ids, n_views) if conditioning == "batchnorm" else None)
    return keras.Model([latents, view_ids], images, name="conditional_generator")


def _critic_features(images, image_size, width, normalization, max_filters):
    """The critic's flattened 4x4 features of `images` (the input of its score)."""
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}")
    filters = _filters(image_size, width, max_filters)
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
    return layers.Flatten()(x)


def build_critic(image_size=64, channels=3, width=64, normalization="batch", max_filters=512):
    """Critic: (N, S, S, channels) images in [-1, 1] -> (N, 1) unbounded scores.

    `normalization` after every convolution but the first: "batch" (DCGAN, used with weight
    clipping), "layer" (per-sample, what WGAN-GP recommends instead of batch norm, whose
    cross-sample mixing breaks the per-sample gradient penalty) or "none". Convolutions have
    no bias (the normalisation's offset takes its place, as in DCGAN's reference code).
    """
    images = keras.Input((image_size, image_size, channels), name="images")
    x = _critic_features(images, image_size, width, normalization, max_filters)
    scores = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="score")(x)
    return keras.Model(images, scores, name="critic")


def build_projection_critic(n_views, image_size=64, channels=3, width=64, normalization="batch",
                            max_filters=512):
    """Projection critic (Miyato and Koyama 2018): [(N, S, S, C) images, (N,) int view ids] ->
    (N, 1) scores linear(h) + <embed(view), h>, h the features of `build_critic`'s network."""
    images = keras.Input((image_size, image_size, channels), name="images")
    view_ids = keras.Input((), dtype="int32", name="view_ids")
    features = _critic_features(images, image_size, width, normalization, max_filters)
    features = layers.Activation("linear", dtype="float32")(features)
    embedded = layers.Embedding(n_views, features.shape[-1], embeddings_initializer=_init(),
                                dtype="float32", name="view_projection")(view_ids)
    projection = layers.Dot(axes=1, dtype="float32")([features, embedded])
    linear = layers.Dense(1, kernel_initializer=_init(), dtype="float32", name="score")(features)
    scores = layers.Add(dtype="float32")([linear, projection])
    return keras.Model([images, view_ids], scores, name="projection_critic")


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
