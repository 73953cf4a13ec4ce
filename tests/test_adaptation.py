"""Batch-norm adaptation: statistics re-estimated on photos, blended, left alone when too few."""

import numpy as np
import pytest
from PIL import Image

from cargen.cli import quiet_tensorflow
from cargen.views import VIEWS


@pytest.fixture(scope="module")
def compact_run(tmp_path_factory):
    """A run folder holding an untrained 32 px compact network (it has batch norm)."""
    quiet_tensorflow()
    import keras
    from classifier.inference import write_classes_json
    from classifier.model import build_model
    keras.utils.set_random_seed(0)
    run_dir = tmp_path_factory.mktemp("compact_run")
    build_model("compact", 32, len(VIEWS), width=0.5).save(run_dir / "model.keras")
    write_classes_json(run_dir, VIEWS, 32, "pad")
    return run_dir


def write_photos(folder, count, seed=0):
    """`count` bright noisy 40x30 jpgs (unlike the zero-mean start the statistics have)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        pixels = rng.integers(150, 256, (30, 40, 3), dtype=np.uint8)
        path = folder / f"photo_{i:03d}.jpg"
        Image.fromarray(pixels).save(path, quality=95)
        paths.append(path)
    return paths


def first_batch_norm(classifier):
    from classifier.adaptation import batch_norm_layers
    return batch_norm_layers(classifier.model)[0]


def stem_mean(classifier, paths):
    """Mean over the photos of the stem convolution's outputs: what the first batch norm's
    moving mean must become."""
    import keras
    conv = keras.Model(classifier.model.input, classifier.model.get_layer("stem_conv").output)
    images = np.concatenate([batch.numpy()[ok.numpy()] for batch, _, ok in
                             classifier.dataset(paths, 64)]).astype(np.float32)
    return np.asarray(conv(images)).mean(axis=(0, 1, 2))


def test_statistics_become_the_photos_and_the_file_is_untouched(compact_run, tmp_path):
    from classifier.adaptation import adapt_batch_norm
    from classifier.inference import load_classifier
    paths = write_photos(tmp_path / "photos", 96)
    stamp = (compact_run / "model.keras").stat().st_mtime_ns
    classifier = load_classifier(compact_run)
    before = classifier.predict(np.full((2, 32, 32, 3), 200, np.uint8))
    assert adapt_batch_norm(classifier, paths, max_photos=1000, batch_size=32) == 96
    layer = first_batch_norm(classifier)
    np.testing.assert_allclose(layer.moving_mean.numpy(), stem_mean(classifier, paths),
                               rtol=1e-3, atol=1e-4)
    assert layer.momentum == pytest.approx(0.99)
    after = classifier.predict(np.full((2, 32, 32, 3), 200, np.uint8))
    assert not np.allclose(before, after)
    assert (compact_run / "model.keras").stat().st_mtime_ns == stamp


def test_blend_is_halfway_and_the_sample_is_capped(compact_run, tmp_path):
    from classifier.adaptation import adapt_batch_norm
    from classifier.inference import load_classifier
    paths = write_photos(tmp_path / "photos", 96, seed=1)
    full = load_classifier(compact_run)
    adapt_batch_norm(full, paths, max_photos=1000)
    half = load_classifier(compact_run)
    source = first_batch_norm(half).moving_mean.numpy()
    assert adapt_batch_norm(half, paths, max_photos=1000, blend=0.5) == 96
    np.testing.assert_allclose(first_batch_norm(half).moving_mean.numpy(),
                               (source + first_batch_norm(full).moving_mean.numpy()) / 2,
                               rtol=1e-4, atol=1e-5)
    capped = load_classifier(compact_run)
    assert adapt_batch_norm(capped, paths, max_photos=70) == 70


def test_too_few_readable_photos_change_nothing(compact_run, tmp_path):
    from classifier.adaptation import adapt_batch_norm
    from classifier.inference import load_classifier
    paths = write_photos(tmp_path / "photos", 40)
    broken = tmp_path / "photos" / "broken.jpg"
    broken.write_bytes(b"not a jpeg")
    classifier = load_classifier(compact_run)
    mean = first_batch_norm(classifier).moving_mean.numpy()
    assert adapt_batch_norm(classifier, paths + [broken] * 30) == 0
    np.testing.assert_array_equal(first_batch_norm(classifier).moving_mean.numpy(), mean)
    with pytest.raises(ValueError):
        adapt_batch_norm(classifier, paths, blend=0)
