"""Classifier speed: training images/s and sorting images/s (decoding 320x240 jpgs included),
for the default `compact` network against the 2021 `seed` network, measured in one run.

Training speed is the real training step (augmentation, flips, class weights, optimizer) on
generated pictures; prediction speed goes through `classifier.inference` exactly as the sorter
does (tf.data parallel decode of jpg files, batch prediction), with and without test-time flip
averaging. Weights do not change speed, so untrained networks are used.

Examples:
  python benchmarks/classifier_speed.py
  python benchmarks/classifier_speed.py --images 2000 --train-steps 60
"""

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from cargen.cli import run_main


def write_jpgs(folder, count, size=(320, 240), seed=0):
    """`count` 320x240 jpgs with smooth random content (they compress like photos)."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        cells = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        image = Image.fromarray(cells).resize(size, Image.BICUBIC)
        paths.append(Path(folder) / f"photo_{i:05d}.jpg")
        image.save(paths[-1], quality=90)
    return paths


def training_speed(arch, image_size, steps, batch_size=32):
    """Images/s of the real training step (pipeline + augmentation + update) for `arch`."""
    import keras

    from classifier import training_data
    from classifier.model import build_model
    tf = training_data.tf
    classes = ["front", "front_left", "front_right", "left", "right", "rear", "rear_left",
               "rear_right"]
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, image_size, image_size, 3), dtype=np.uint8)
    labels = rng.integers(0, len(classes), 256).astype(np.int32)
    cached = tf.data.Dataset.from_tensor_slices((images, labels)).cache().repeat()
    stream = training_data.training_pipeline(
        cached, classes, batch_size, augment=training_data.augmentation_layers(0),
        class_weights=np.ones(len(classes), np.float32))
    model = build_model(arch, image_size, len(classes))
    model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        model.fit(stream, steps_per_epoch=3, epochs=1, verbose=0)
        start = time.perf_counter()
        model.fit(stream, steps_per_epoch=steps, epochs=1, verbose=0)
        return steps * batch_size / (time.perf_counter() - start)


def prediction_speed(arch, image_size, paths, flip_average, run_root):
    """Images/s sorting `paths` (decode + resize + predict) through classifier.inference."""
    from classifier.inference import load_classifier, write_classes_json
    from classifier.model import build_model
    run = Path(run_root) / f"{arch}_{image_size}"
    if not run.is_dir():
        run.mkdir(parents=True)
        build_model(arch, image_size, 9).save(run / "model.keras")
        write_classes_json(run, ["front", "front_left", "front_right", "left", "right", "rear",
                                 "rear_left", "rear_right", "other"], image_size, "pad",
                           temperature=1.3, flip_average=flip_average)
    classifier = load_classifier(run)
    for images, _, _ in classifier.dataset(paths[:128], 128):
        classifier.predict(images, flip_average=flip_average)
    start = time.perf_counter()
    for images, _, _ in classifier.dataset(paths, 128):
        classifier.predict(images, flip_average=flip_average)
    return len(paths) / (time.perf_counter() - start)


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=1500,
                        help="320x240 jpgs to sort per measurement (default: 1500)")
    parser.add_argument("--train-steps", type=int, default=30,
                        help="training steps of 32 images per measurement (default: 30)")
    parser.add_argument("--compact-size", type=int, default=112,
                        help="input size of the compact network (default: 112)")
    return parser.parse_args(argv)


def main(argv=None):
    """Measure and print the table."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="classifier_speed_") as scratch:
        paths = write_jpgs(scratch, args.images)
        rows = []
        for arch, size in (("compact", args.compact_size), ("seed", 150)):
            train = training_speed(arch, size, args.train_steps)
            plain = prediction_speed(arch, size, paths, False, scratch)
            flipped = prediction_speed(arch, size, paths, True, scratch)
            rows.append((arch, size, train, plain, flipped))
            print(f"{arch} {size}px: training {train:,.0f} img/s, sorting {plain:,.0f} img/s "
                  f"({flipped:,.0f} with flip averaging)", flush=True)
    print()
    print("| arch | input | training img/s | sorting img/s (320x240 jpg, decode included) | "
          "with flip averaging |")
    print("|---|---|---|---|---|")
    for arch, size, train, plain, flipped in rows:
        print(f"| {arch} | {size} px | {train:,.0f} | {plain:,.0f} | {flipped:,.0f} |")
    base = rows[-1]
    for arch, size, train, plain, flipped in rows[:-1]:
        print(f"{arch} vs seed: training x{train / base[2]:.1f}, sorting x{plain / base[3]:.1f}")
    return 0


if __name__ == "__main__":
    run_main(main)
