"""How good a generator is, measured with the viewpoint classifier (offline, no downloads).

- view fidelity: the share of images the classifier puts in the target view with calibrated
  confidence >= 0.70, for generated images and, beside it, for the real ones;
- FD-classifier: the Frechet distance between Gaussians fitted to real and generated images'
  penultimate classifier features (the FID formula, but in our classifier's feature space, so
  its values are not comparable with published Inception FIDs);
- KID: the unbiased squared MMD with the cubic polynomial kernel in the same feature space,
  averaged over random subsets (less biased than FD for small samples);
- diversity: the mean pairwise L2 distance between feature vectors, generated and real. A
  collapsed generator draws near-identical cars and its diversity falls far below the real one;
- view control: the share of generated images whose most likely class is the view they were
  asked for (what matters for a generator of many views; `generator.view_control`).
"""

import time
from dataclasses import dataclass

import numpy as np
from PIL import Image

from cargen.aspect import content_aspect, fit_square, picture_shape
from cargen.cli import UsageError, quiet_tensorflow
from generator.pictures import to_rgb, to_uint8
from generator.sampling import as_generator, sample_latents

CONFIDENCE_THRESHOLD = 0.70
KID_SUBSETS = 50
KID_MAX_SUBSET_SIZE = 500
DIVERSITY_MAX_IMAGES = 2000


@dataclass
class ImageStatistics:
    """What the metrics need from a set of images: features and target-view confidences."""

    features: np.ndarray
    view_confidence: np.ndarray
    unreadable: int = 0
    image_size: int = None  # real photos: the size they were fitted to first (None: classifier's)
    fit: str = None
    channels: int = 3
    aspect: float = None  # padded or stretched squares: the pictures' width / height, restored
    predicted: np.ndarray = None  # generated images: the classifier's class index of each
    target: int = None  # generated images: the index of the class they were asked to show

    @property
    def count(self):
        """Number of images measured."""
        return len(self.features)


def fit_for_classifier(images, image_size, fit="stretch"):
    """uint8 (N, H, W, C) images as RGB, squared to the classifier's `image_size` with `fit`.

    They go through the same `cargen.aspect.fit_square` as the real photos (for square images
    every fit mode is the same bilinear resize).
    """
    images = to_rgb(images)
    if images.shape[1] == image_size and images.shape[2] == image_size:
        return images
    return np.stack([np.asarray(fit_square(Image.fromarray(image), image_size, fit))
                     for image in images])


def _view_index(classifier, view):
    if view not in classifier.classes:
        raise UsageError(f"{classifier.run_dir}: the classifier has no class {view!r} "
                         f"(it knows {', '.join(classifier.classes)})")
    return classifier.classes.index(view)


def _grayscale(images):
    """uint8 RGB (N, S, S, 3) to (N, S, S, 1) the way generator training data is made gray."""
    tf = quiet_tensorflow()
    gray = tf.round(tf.image.rgb_to_grayscale(tf.cast(images, tf.float32)))
    return tf.cast(gray, tf.uint8).numpy()


def real_statistics(classifier, real_paths, view, batch_size=128, image_size=None, fit=None,
                    channels=3, flip=False):
    """Features and target-view confidences of real images (unreadable files are skipped).

    To compare like with like, give the generator's `image_size`, `fit` and `channels`: each
    photo is then made square exactly as the generator's training images were (and gray for
    a 1-channel generator) and only then resized to the classifier's input, like the
    generated images. Without `image_size` the photos go straight to the classifier's size.
    Compute this once and pass it as `real_paths` to `evaluate_generator` when evaluating
    many times against the same real images (e.g. during training). With `flip` the photos are
    shown flipped left-right (photos of `view`'s mirror view standing in for its own).
    """
    from cargen.pipeline import image_dataset, prediction_batches
    index = _view_index(classifier, view)
    paths = list(real_paths)
    aspect = None
    if image_size is None:
        fit = classifier.fit
        batches = classifier.dataset(paths, batch_size)
    else:
        fit = fit or classifier.fit
        batches = prediction_batches(image_dataset(paths, image_size, fit), batch_size)
        if fit in ("pad", "stretch") and classifier.fit != fit:
            aspect = content_aspect(paths)
    features, confidence, unreadable = [], [], 0
    for images, _indices, ok in batches:
        ok = ok.numpy()
        unreadable += int((~ok).sum())
        images = images.numpy()[ok]
        if len(images) and channels == 1:
            images = _grayscale(images)
        if len(images):
            images = fit_for_classifier(picture_shape(images, fit, aspect),
                                        classifier.image_size, classifier.fit)
            if flip:
                images = images[:, :, ::-1]
            features.append(classifier.features(images))
            confidence.append(classifier.predict(images)[:, index])
    if not features:
        raise UsageError(f"no readable real images among {len(paths)} files")
    return ImageStatistics(np.concatenate(features), np.concatenate(confidence), unreadable,
                           image_size, fit, channels, aspect)


def generated_statistics(generator, classifier, view, n, seed=0, batch_size=128, aspect=None,
                         fit="pad"):
    """Features, target-view confidences and predicted classes of `n` images generated from
    seeded latents (asked for `view` from a conditional generator); `aspect` and `fit`: the
    real statistics' (see `cargen.aspect.picture_shape`), for a generator trained on pictures
    made square with `fit` and shown to a classifier that squares them otherwise."""
    generator = as_generator(generator)
    index = _view_index(classifier, view)
    view_id = generator.view_id(view) if generator.views is not None else None
    latents = sample_latents(n, generator.latent_dim, seed)
    features, confidence, predicted = [], [], []
    for start in range(0, n, batch_size):
        images = to_uint8(generator(latents[start:start + batch_size], view_id))
        images = fit_for_classifier(picture_shape(images, fit, aspect), classifier.image_size,
                                    classifier.fit)
        features.append(classifier.features(images))
        probabilities = classifier.predict(images)
        confidence.append(probabilities[:, index])
        predicted.append(np.argmax(probabilities, axis=1))
    return ImageStatistics(np.concatenate(features), np.concatenate(confidence),
                           predicted=np.concatenate(predicted), target=index)


def _sqrt_psd(matrix):
    """Square root of a symmetric positive semi-definite matrix (negative eigenvalues -> 0)."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def frechet_distance(features_a, features_b):
    """Frechet distance between Gaussians fitted to two feature sets (rows are samples).

    |mu_a - mu_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a^1/2 C_b C_a^1/2)^1/2); the middle matrix
    is symmetric, so both square roots come from symmetric eigendecompositions.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Frechet distance needs at least 2 samples on each side")
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrt_psd(cov_a)
    middle = root_a @ cov_b @ root_a
    eigenvalues = np.linalg.eigvalsh((middle + middle.T) / 2)
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    distance = np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root
    return float(max(distance, 0.0))


def kernel_inception_distance(features_a, features_b, subsets=KID_SUBSETS,
                              max_subset_size=KID_MAX_SUBSET_SIZE, seed=0):
    """Unbiased MMD^2 with kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.

    Named after the KID of Binkowski et al. (2018); here computed on our classifier's features.
    """
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    dim = a.shape[1]
    m = min(len(a), len(b), max_subset_size)
    if m < 2:
        raise ValueError("KID needs at least 2 samples on each side")
    rng = np.random.default_rng(seed)
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        k_xx = (x @ x.T / dim + 1) ** 3
        k_yy = (y @ y.T / dim + 1) ** 3
        k_xy = (x @ y.T / dim + 1) ** 3
        within = (k_xx.sum() - np.trace(k_xx) + k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
        total += within - 2 * k_xy.mean()
    return float(total / subsets)


def mean_pairwise_distance(features, max_samples=DIVERSITY_MAX_IMAGES, seed=0):
    """Mean L2 distance over all pairs of distinct rows (a random subset for big sets)."""
    x = np.asarray(features, np.float64)
    if len(x) > max_samples:
        x = x[np.random.default_rng(seed).choice(len(x), max_samples, replace=False)]
    n = len(x)
    if n < 2:
        return 0.0
    squared = np.sum(x * x, axis=1)
    distances = np.sqrt(np.clip(squared[:, None] + squared[None, :] - 2 * x @ x.T, 0, None))
    return float((distances.sum() - np.trace(distances)) / (n * (n - 1)))


def generated_figures(generated, classes, threshold=CONFIDENCE_THRESHOLD):
    """The figures of generated `ImageStatistics` that need no real images: view fidelity,
    view control and the shares of the `classes` classifier classes among the images."""
    return {"view": classes[generated.target],
            "view_fidelity": float(np.mean(generated.view_confidence >= threshold)),
            "view_control": float(np.mean(generated.predicted == generated.target)),
            "predicted_shares": list(np.bincount(generated.predicted, minlength=len(classes))
                                     / generated.count)}


def compare(generated, real, threshold=CONFIDENCE_THRESHOLD, seed=0):
    """The metrics comparing two `ImageStatistics`, as a dict (see the module docstring)."""
    return {
        "real_view_fidelity": float(np.mean(real.view_confidence >= threshold)),
        "fd_classifier": frechet_distance(real.features, generated.features),
        "kid": kernel_inception_distance(real.features, generated.features, seed=seed),
        "diversity": mean_pairwise_distance(generated.features, seed=seed),
        "real_diversity": mean_pairwise_distance(real.features, seed=seed),
        "n_generated": generated.count,
        "n_real": real.count,
        "n_real_unreadable": real.unreadable,
        "confidence_threshold": threshold,
        "feature_dim": int(real.features.shape[1]),
    }


def evaluate_generator(generator, classifier, real_paths, view, n, seed=0, batch_size=128,
                       threshold=CONFIDENCE_THRESHOLD, fit=None):
    """Measure `generator` against real images of `view` with a loaded `ViewClassifier`.

    `generator` is a Keras generator model or a `sampling.LoadedGenerator`; `real_paths` is a
    list of image files or the `ImageStatistics` from `real_statistics` (to reuse them).
    Listed photos are prepared like the generator's training images: squared with `fit`
    (default: the run's options.json, else the classifier's fit) at the generator's size.
    Returns a dict with view_fidelity, real_view_fidelity, fd_classifier, kid, diversity,
    real_diversity, view_control, predicted_shares, n_generated, n_real, seconds (and a few
    details).
    """
    start = time.perf_counter()
    generator = as_generator(generator)
    if n < 2:
        raise UsageError(f"need at least 2 generated images to compare, not {n}")
    if isinstance(real_paths, ImageStatistics):
        real = real_paths
        if real.image_size is not None and (real.image_size, real.channels) != (
                generator.image_size, generator.channels):
            raise UsageError(f"real statistics made for a {real.image_size} px, "
                             f"{real.channels}-channel generator; this one is "
                             f"{generator.image_size} px, {generator.channels}-channel")
    else:
        fit = fit or generator.options.get("fit") or classifier.fit
        real = real_statistics(classifier, real_paths, view, batch_size,
                               generator.image_size, fit, generator.channels)
    if real.count < 2:
        raise UsageError("need at least 2 readable real images to compare")
    generated = generated_statistics(generator, classifier, view, n, seed, batch_size,
                                     real.aspect, real.fit)
    result = {**generated_figures(generated, classifier.classes, threshold),
              **compare(generated, real, threshold, seed),
              "real_image_size": real.image_size, "real_fit": real.fit,
              "picture_aspect": real.aspect}
    result["seconds"] = round(time.perf_counter() - start, 2)
    return result
