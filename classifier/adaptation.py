"""Batch-norm adaptation: a classifier's normalisation statistics re-estimated on the photos it
is about to predict.

A network trained on one kind of photo normalises every layer with the means and variances of
that kind; photos from another source (another camera, framing, background, compression) shift
them. Re-estimating the batch-norm statistics on a sample of the new photos, which needs no
labels, normalises them the way the training photos were (Li et al. 2017, "Revisiting batch
normalization for practical domain adaptation"). The weights are untouched and the model file
is never written: the adaptation lives in the loaded model only.
"""

import math

import numpy as np

from cargen.cli import Progress, quiet_tensorflow

MIN_PHOTOS = 64


def batch_norm_layers(model):
    """The model's BatchNormalization layers, in order."""
    import keras
    return [layer for layer in model.layers
            if isinstance(layer, keras.layers.BatchNormalization)]


def sample_paths(paths, max_photos, seed=0):
    """At most `max_photos` of `paths`, drawn at random (seeded) and kept in their order."""
    paths = list(paths)
    if len(paths) <= max_photos:
        return paths
    chosen = np.sort(np.random.default_rng(seed).choice(len(paths), max_photos, replace=False))
    return [paths[i] for i in chosen]


def adapt_batch_norm(classifier, paths, max_photos=2000, blend=1.0, first=None, batch_size=64,
                     seed=0):
    """Re-estimate the batch-norm statistics of `classifier` (a loaded `ViewClassifier`) on at
    most `max_photos` of `paths`, in place.

    The photos go in batches of about `batch_size`, all of one size. Only the `first`
    batch-norm layers (every one when None) change: the early ones see colour, contrast and
    texture, the late ones what the photo shows. Each changed layer's new statistic is `blend`
    times the photos' plus `1 - blend` times the training photos'. Returns the number of
    photos the statistics came from; with fewer than MIN_PHOTOS readable ones (too few for
    stable statistics) or a model without batch norm, nothing changes and 0 is returned.
    """
    if not 0 < blend <= 1:
        raise ValueError(f"blend must be in (0, 1], not {blend}")
    layers = batch_norm_layers(classifier.model)
    kept = layers[len(layers) if first is None else first:]
    chosen = sample_paths(paths, max_photos, seed)
    if not layers or len(chosen) < MIN_PHOTOS:
        return 0
    tf = quiet_tensorflow()
    source = [(layer.moving_mean.numpy(), layer.moving_variance.numpy()) for layer in layers]
    momenta = [layer.momentum for layer in layers]
    used, step = 0, 0
    even_batch = math.ceil(len(chosen) / math.ceil(len(chosen) / batch_size))
    progress = Progress(len(chosen), label="adapting to the photos", always=False)
    try:
        for images, indices, ok in classifier.dataset(chosen, even_batch):
            ok = ok.numpy()
            progress.update(len(indices))
            # a batch of a few readable photos would give noisy variances
            if ok.sum() < min(16, even_batch):
                continue
            for layer in layers:
                layer.momentum = step / (step + 1.0)  # a running mean of the batches' statistics
            classifier.model(tf.cast(tf.boolean_mask(images, ok), tf.float32), training=True)
            used += int(ok.sum())
            step += 1
    finally:
        for layer, momentum in zip(layers, momenta):
            layer.momentum = momentum
        progress.close()
    for layer, (mean, variance) in zip(layers, source):
        if used < MIN_PHOTOS or layer in kept:
            layer.moving_mean.assign(mean)
            layer.moving_variance.assign(variance)
    if used < MIN_PHOTOS:
        return 0
    for layer, (mean, variance) in zip(layers, source):
        if layer in kept:
            continue
        layer.moving_mean.assign(blend * layer.moving_mean.numpy() + (1 - blend) * mean)
        layer.moving_variance.assign(blend * layer.moving_variance.numpy()
                                     + (1 - blend) * variance)
    return used
