"""tf.data input for GAN training: one view folder -> endless shuffled batches in [-1, 1].

Images are decoded once through the shared robust decoder (`cargen.pipeline.decoded_images`),
made square (`fit`), and cached as uint8 - in memory, or in a file for folders too big for RAM -
so the whole set is never held as float32. Batches are converted to float32 in [-1, 1] one at a
time, after shuffling. TensorFlow is imported only when a dataset is made, so the checks here
are quick.
"""

import hashlib
import json
import sys
from pathlib import Path

from cargen.cli import Progress, UsageError
from cargen.images import list_images

SHUFFLE_BUFFER = 10_000
MIN_IMAGE_SIZE = 16


def check_image_size(image_size):
    """Return `image_size` if it is a power of two >= 16 (what the networks double up to), else
    raise UsageError."""
    if image_size < MIN_IMAGE_SIZE or image_size & (image_size - 1):
        raise UsageError(f"image size must be a power of two >= {MIN_IMAGE_SIZE} "
                         f"(16, 32, 64, 128, ...), not {image_size}")
    return image_size


def small_pictures_warning(paths, image_size, sample=100):
    """A warning (text) when pictures among the first `sample` are smaller than half the
    training size (they get upscaled, so blurry), else None. Reads only the files' headers."""
    from PIL import Image
    small = []
    for path in paths[:sample]:
        try:
            with Image.open(path) as image:
                if min(image.size) < image_size // 2:
                    small.append((path, image.size))
        except OSError:
            continue  # unreadable files are reported by the decoder
    if not small:
        return None
    path, (width, height) = small[0]
    return (f"warning: {len(small)} of the first {min(sample, len(paths))} pictures are smaller "
            f"than {image_size // 2} px (e.g. {path}, {width}x{height}); they are upscaled to "
            f"{image_size} px and will look blurry")


def find_training_images(folder):
    """The image files in `folder`; UsageError if it is missing, not a folder or has none."""
    folder = Path(folder)
    if not folder.exists():
        raise UsageError(f"{folder}: no such folder")
    if not folder.is_dir():
        raise UsageError(f"{folder}: not a folder")
    paths = list_images(folder)
    if not paths:
        raise UsageError(f"{folder}: no images (jpg, jpeg, png, bmp, gif, webp) in this folder")
    return paths


class TrainingImages:
    """The decoded, cached images of one folder; `.count` good images, `.failed` bad paths."""

    def __init__(self, folder, image_size, channels=3, fit="pad", cache_file=None,
                 progress=True):
        import tensorflow as tf

        from cargen.pipeline import decoded_images
        self.paths = find_training_images(folder)
        self.folder, self.image_size, self.channels = Path(folder), image_size, channels
        warning = small_pictures_warning(self.paths, image_size)
        if warning:
            print(warning, file=sys.stderr)
        dataset, self.failed = decoded_images(self.paths, image_size, fit)
        if channels == 1:
            dataset = dataset.map(lambda image: tf.cast(
                tf.round(tf.image.rgb_to_grayscale(tf.cast(image, tf.float32))), tf.uint8))
        self.cached = dataset.cache(self._cache_name(cache_file, fit) if cache_file else "")
        self.count = self._fill_cache(progress)
        if self.count == 0:
            raise UsageError(f"{folder}: none of its {len(self.paths)} images could be decoded "
                             f"(first: {self.failed[0]})")

    def _cache_name(self, cache_file, fit):
        """A cache file name that changes with the image list and decoding options, so a stale
        cache is never read for other images."""
        key = json.dumps([[str(p) for p in self.paths], self.image_size, self.channels, fit])
        digest = hashlib.sha1(key.encode()).hexdigest()[:10]
        cache_file = Path(cache_file)
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        name = f"{cache_file}_{digest}"
        for stale in cache_file.parent.glob(f"{cache_file.name}_{digest}*.lockfile"):
            stale.unlink()  # left by a killed run; the cache itself is only complete once indexed
        return name

    def _fill_cache(self, progress):
        bar = Progress(len(self.paths), "decoding", always=False) if progress else None
        count = 0
        for batch in self.cached.batch(256).prefetch(2):
            count += int(batch.shape[0])
            if bar:
                bar.update(int(batch.shape[0]))
        if bar:
            bar.count = len(self.paths)
            bar.close(f"{count} images, {len(self.failed)} unreadable")
        return count

    def examples(self, seed=None):
        """Endless dataset of the uint8 images, shuffled anew every pass."""
        buffer = min(self.count, SHUFFLE_BUFFER)
        return self.cached.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()

    def batches(self, batch_size, seed=None):
        """Endless dataset of float32 batches (batch_size, S, S, channels) in [-1, 1]."""
        if self.count < batch_size:
            print(f"warning: {self.folder}: only {self.count} images, fewer than a batch of "
                  f"{batch_size}; each batch repeats images", file=sys.stderr)
        return scaled_batches(self.examples(seed), batch_size)


def scaled_batches(examples, batch_size):
    """Batches of `examples` (uint8 images, or (uint8 image, label) pairs) with the images as
    float32 in [-1, 1], prefetched."""
    import tensorflow as tf

    def scale(images, *labels):
        images = tf.cast(images, tf.float32) / 127.5 - 1.0
        return (images, *labels) if labels else images
    dataset = examples.batch(batch_size, drop_remainder=True)
    return dataset.map(scale, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
