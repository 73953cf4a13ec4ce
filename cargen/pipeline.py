"""tf.data input for every script: parallel, robust decoding of image files to uint8 tensors.

Files are decoded by `cargen.images.load_square` on tf.data's parallel threads (Pillow releases
the GIL while it decodes and resizes). A file that cannot be decoded does not stop the pipeline:
it yields a blank image and why it failed (`ok=False` in `image_dataset`, the reason itself in
`images_with_reasons`), so callers count and drop it by its index without decoding it again.
"""

import numpy as np

from cargen.cli import quiet_tensorflow
from cargen.images import ImageDecodeError, load_square

tf = quiet_tensorflow()


def _loader(paths, size, fit):
    blank = np.zeros((size, size, 3), np.uint8)

    def load(index):
        try:
            return load_square(paths[int(index)], size, fit), np.bytes_(b"")
        except ImageDecodeError as error:
            return blank, np.bytes_(error.reason.encode("utf-8"))

    return load


def images_with_reasons(paths, size, fit="pad", parallel_calls=tf.data.AUTOTUNE):
    """Dataset of `(image, index, reason)`: image uint8 (size, size, 3), index into `paths`.

    `reason` (a string tensor) is empty for a decoded file and says why for one that could not
    be decoded (its image is all zeros). The order is deterministic: element i comes from
    paths[i].
    """
    paths = [str(p) for p in paths]
    load = _loader(paths, size, fit)

    def decode(index):
        image, reason = tf.numpy_function(load, [index], [tf.uint8, tf.string], stateful=False)
        image.set_shape((size, size, 3))
        reason.set_shape(())
        return image, index, reason

    indices = tf.data.Dataset.range(len(paths))
    return indices.map(decode, num_parallel_calls=parallel_calls, deterministic=True)


def image_dataset(paths, size, fit="pad", parallel_calls=tf.data.AUTOTUNE):
    """Dataset of `(image, index, ok)`: `images_with_reasons` with `ok` False for a file that
    could not be decoded."""
    return images_with_reasons(paths, size, fit, parallel_calls).map(
        lambda image, index, reason: (image, index, tf.equal(reason, "")))


def prediction_batches(dataset, batch_size):
    """`dataset` in batches of `batch_size`, two of them decoded ahead, with tf.data's
    autotuning off.

    For a single pass, such as predicting a folder: autotuning's optimiser thread sleeps ever
    longer between its rounds, and deleting the iterator waits for it to wake, so a pass of a
    few seconds would end with a wait of a second or two.
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.batch(batch_size).prefetch(2).with_options(options)


def decoded_images(paths, size, fit="pad", parallel_calls=tf.data.AUTOTUNE):
    """Dataset of uint8 images from `paths`, corrupt files dropped, plus a list of the failures.

    Returns `(dataset, failed)`: `failed` fills with the paths that could not be decoded as the
    dataset is iterated (complete after one full pass).
    """
    failed = []
    paths = [str(p) for p in paths]

    def note(index, ok):
        if not ok:
            failed.append(paths[int(index)])
        return ok

    def keep(image, index, ok):
        return tf.numpy_function(note, [index, ok], tf.bool, stateful=True)

    dataset = image_dataset(paths, size, fit, parallel_calls).filter(
        lambda image, index, ok: tf.reshape(keep(image, index, ok), ()))
    return dataset.map(lambda image, index, ok: image), failed
