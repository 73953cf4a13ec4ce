"""The shared tf.data decoder: parallel, ordered, and corrupt files dropped and named."""

import numpy as np
from PIL import Image

from cargen.cli import quiet_tensorflow

tf = quiet_tensorflow()

from cargen.pipeline import decoded_images, image_dataset, images_with_reasons  # noqa: E402


def make_folder(tmp_path, n=6):
    paths = []
    for i in range(n):
        path = tmp_path / f"{i}.jpg"
        Image.new("RGB", (40, 30), (i * 40, 0, 0)).save(path)
        paths.append(path)
    return paths


def test_image_dataset_keeps_order_and_flags_corrupt(tmp_path):
    paths = make_folder(tmp_path)
    paths[2].write_bytes(b"garbage")
    items = list(image_dataset(paths, 16).as_numpy_iterator())
    assert [int(index) for _, index, _ in items] == list(range(6))
    assert [bool(ok) for _, _, ok in items] == [True, True, False, True, True, True]
    image = items[3][0]
    assert image.shape == (16, 16, 3) and image.dtype == np.uint8
    assert abs(int(image[8, 8, 0]) - 120) <= 2


def test_decoded_images_drops_and_counts_failures(tmp_path):
    paths = make_folder(tmp_path)
    paths[0].write_bytes(b"")
    paths[4].write_bytes(b"\xff\xd8\xff\xe0garbage")
    dataset, failed = decoded_images(paths, 8, fit="crop")
    images = list(dataset.batch(4).as_numpy_iterator())
    assert sum(len(batch) for batch in images) == 4
    assert sorted(failed) == sorted([str(paths[0]), str(paths[4])])


def test_images_with_reasons_says_why_a_file_failed(tmp_path):
    paths = make_folder(tmp_path, 3)
    paths[1].write_bytes(b"")
    reasons = [reason.decode() for _, _, reason in
               images_with_reasons(paths, 8).as_numpy_iterator()]
    assert reasons[0] == reasons[2] == "" and "empty" in reasons[1]
