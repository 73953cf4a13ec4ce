"""The classifier's tf.data pipelines over labelled view sets (read and split by
cargen.labelled_sets, whose names are re-exported here).

Images are decoded once through the shared robust decoder (corrupt files are counted and
skipped), cached as uint8, then shuffled, augmented and flipped with the label swapped through
the mirror map on every epoch.
"""


import numpy as np

from cargen.cli import Progress, quiet_tensorflow

tf = quiet_tensorflow()
import keras  # noqa: E402

from cargen.labelled_sets import (  # noqa: E402, F401  (re-exported for training)
    LabelledFiles,
    find_dataset,
    read_view_folders,
    stratified_split,
    validation_sources,
)
from cargen.pipeline import image_dataset  # noqa: E402  (imports TensorFlow: after quieting it)
from cargen.views import MIRROR, VIEWS, mirror_permutation  # noqa: E402


def class_list(views, flip):
    """The model's ordered classes: views with images, plus their mirrors when flipping."""
    present = set(views)
    if flip:
        present |= {MIRROR[view] for view in present}
    return [view for view in VIEWS if view in present]


def balanced_class_weights(views, classes, flip):
    """Weights that make every class count the same: n / (k * count), mirror-aware.

    With flipping each class also receives half of its mirror partner's images, so the
    effective count is the mean of the two.
    """
    counts = np.array([views.count(c) for c in classes], dtype=np.float64)
    if flip:
        counts = (counts + counts[mirror_permutation(classes)]) / 2.0
    counts = np.maximum(counts, 1e-9)
    weights = counts.sum() / (len(classes) * counts)
    return np.where(counts < 1e-6, 0.0, weights)


def decoded_dataset(files, classes, image_size, fit, label=""):
    """Decode `files` once into an in-memory cached tf.data of (uint8 image, class index).

    Returns `(dataset, failed)`; `failed` lists the files that could not be decoded (they are
    dropped). The decoding pass runs here, with a progress bar, so the cache is full before
    training starts.
    """
    index = {view: i for i, view in enumerate(classes)}
    labels = np.array([index[view] for view in files.views], dtype=np.int32)
    failed = []

    def note(i, ok):
        if not ok:
            failed.append(files.paths[int(i)])
        return ok

    def keep(image, i, ok):
        return tf.reshape(tf.numpy_function(note, [i, ok], tf.bool, stateful=True), ())

    label_table = tf.constant(labels)
    dataset = (image_dataset(files.paths, image_size, fit)
               .filter(keep)
               .map(lambda image, i, ok: (image, tf.gather(label_table, i)))
               .cache())
    progress = Progress(len(files), label=f"decoding {label}".strip(), always=True)
    for images, _ in dataset.batch(64):
        progress.update(int(images.shape[0]))
    progress.close()
    return dataset, failed


class RandomAffine(keras.layers.Layer):
    """Random rotation, zoom, aspect change and shift in one bilinear warp per image.

    One projective transform instead of three separate Keras layers (RandomRotation,
    RandomZoom, RandomTranslation) costs a third of the time; borders are filled by reflection.
    """

    def __init__(self, rotation_degrees=8.0, zoom=(-0.15, 0.2), aspect=0.1, shift=0.08,
                 **kwargs):
        super().__init__(**kwargs)
        self.rotation = float(np.deg2rad(rotation_degrees))
        self.zoom, self.aspect, self.shift = zoom, aspect, shift

    def call(self, images, training=True):
        if not training:
            return images
        shape = tf.shape(images)
        n, height, width = shape[0], tf.cast(shape[1], tf.float32), tf.cast(shape[2], tf.float32)
        angle = tf.random.uniform((n,), -self.rotation, self.rotation)
        scale = 1.0 + tf.random.uniform((n,), self.zoom[0], self.zoom[1])
        aspect = tf.exp(tf.random.uniform((n,), -self.aspect, self.aspect))
        sx, sy = scale * tf.sqrt(aspect), scale / tf.sqrt(aspect)
        tx = tf.random.uniform((n,), -self.shift, self.shift) * width
        ty = tf.random.uniform((n,), -self.shift, self.shift) * height
        cx, cy = (width - 1) / 2, (height - 1) / 2
        cos, sin = tf.cos(angle), tf.sin(angle)
        a0, a1 = cos / sx, -sin / sx
        b0, b1 = sin / sy, cos / sy
        a2 = cx - a0 * cx - a1 * cy + tx
        b2 = cy - b0 * cx - b1 * cy + ty
        zeros = tf.zeros_like(a0)
        transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
        return tf.raw_ops.ImageProjectiveTransformV3(
            images=images, transforms=transforms, output_shape=shape[1:3],
            fill_value=0.0, interpolation="BILINEAR", fill_mode="REFLECT")


class RandomSoften(keras.layers.Layer):
    """With probability `rate` per batch, shrink the images by up to `factor` and enlarge them
    back: the blur and lost detail of small, low-quality photos."""

    def __init__(self, rate=0.3, factor=0.5, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.factor = rate, factor

    def call(self, images, training=True):
        if not training:
            return images
        size = tf.shape(images)[1:3]
        shrink = tf.random.uniform((), self.factor, 1.0)
        small = tf.maximum(tf.cast(tf.cast(size, tf.float32) * shrink, tf.int32), 8)
        softened = tf.image.resize(tf.image.resize(images, small), size)
        return tf.cond(tf.random.uniform(()) < self.rate, lambda: softened, lambda: images)


def augmentation_layers(seed, strength=1.0):
    """Keras preprocessing layers for training: small rotation, shift, zoom, aspect change,
    contrast, brightness, saturation and occasional softening. `strength` scales every range
    (0 turns augmentation off)."""
    from keras import layers
    if strength <= 0:
        return None
    s = strength
    return keras.Sequential([
        RandomAffine(rotation_degrees=8.0 * s, zoom=(-0.15 * s, 0.2 * s), aspect=0.1 * s,
                     shift=0.08 * s),
        layers.RandomContrast(min(0.3 * s, 0.9), seed=seed + 3),
        layers.RandomBrightness(min(0.2 * s, 0.9), value_range=(0, 255), seed=seed + 4),
        layers.RandomSaturation((max(0.0, 0.5 - 0.15 * s), min(1.0, 0.5 + 0.15 * s)),
                                seed=seed + 5),
        RandomSoften(rate=min(0.3 * s, 1.0)),
    ], name="augmentation")


def scrambled_mosaics(images):
    """Each image replaced by a mosaic of tiles drawn at random from the whole batch.

    A 2x2 to 4x4 grid (chosen per batch) of pieces of different photos: pictures that are not
    one whole car, used as `other` examples (outlier exposure).
    """
    shape = tf.shape(images)
    n, size = shape[0], shape[1]
    grid = tf.random.uniform((), 2, 5, dtype=tf.int32)
    tile = size // grid
    side = grid * tile
    tiles = tf.reshape(images[:, :side, :side], (n, grid, tile, grid, tile, 3))
    tiles = tf.reshape(tf.transpose(tiles, (0, 1, 3, 2, 4, 5)), (n * grid * grid, tile, tile, 3))
    tiles = tf.gather(tiles, tf.random.uniform((n * grid * grid,), 0, n * grid * grid, tf.int32))
    mosaics = tf.reshape(tf.transpose(tf.reshape(tiles, (n, grid, grid, tile, tile, 3)),
                                      (0, 1, 3, 2, 4, 5)), (n, side, side, 3))
    return tf.image.resize(mosaics, (size, size))


def training_pipeline(cached, classes, batch_size, flip=True, augment=None, class_weights=None,
                      outlier_share=0.0, seed=0, domain=None, drop_remainder=False):
    """Epoch stream of (float32 images, one-hot labels[, sample weights]) batches.

    With `flip`, each image is mirrored with probability 0.5 and its label is moved to the
    mirror view (left <-> right, ...). With `outlier_share` > 0 and an `other` class, that share
    of every batch becomes scrambled mosaics labelled `other`. `augment` is a Keras layer applied
    to every batch; `domain` (a `classifier.augmentation.DomainAugmentation`) re-frames the
    images before it and adds overlays and capture artefacts after it. `drop_remainder` leaves
    out each epoch's last, short batch (other photos each epoch, as the order is reshuffled),
    so the training step is traced for one batch shape only.
    """
    n_classes = len(classes)
    permutation = tf.constant(mirror_permutation(classes), tf.int32)
    weights = None if class_weights is None else tf.constant(class_weights, tf.float32)
    outliers = outlier_share > 0 and "other" in classes
    other = classes.index("other") if outliers else -1

    def to_batch(images, labels):
        images = tf.cast(images, tf.float32)
        onehot = tf.one_hot(labels, n_classes)
        if flip:
            mirrored = tf.random.uniform((tf.shape(images)[0],), seed=seed) < 0.5
            images = tf.where(mirrored[:, None, None, None], images[:, :, ::-1, :], images)
            labels = tf.where(mirrored, tf.gather(permutation, labels), labels)
            onehot = tf.one_hot(labels, n_classes)
        if outliers:
            chosen = tf.random.uniform((tf.shape(images)[0],)) < outlier_share
            images = tf.where(chosen[:, None, None, None], scrambled_mosaics(images), images)
            labels = tf.where(chosen, other, labels)
            onehot = tf.one_hot(labels, n_classes)
        if domain is not None:
            images = domain.before(images)
        if augment is not None:
            images = tf.clip_by_value(augment(images, training=True), 0.0, 255.0)
        if domain is not None:
            images = domain.after(images)
        if weights is None:
            return images, onehot
        return images, onehot, tf.gather(weights, labels)

    return (cached.shuffle(4096, seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=drop_remainder)
            .map(to_batch, num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def evaluation_pipeline(cached, n_classes, batch_size):
    """Batches of (float32 images, one-hot labels) in file order, for validation."""
    return (cached.batch(batch_size)
            .map(lambda images, labels: (tf.cast(images, tf.float32),
                                         tf.one_hot(labels, n_classes)))
            .prefetch(tf.data.AUTOTUNE))
