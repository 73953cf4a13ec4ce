"""Hashing throughput of data/prepare_car_connection.py on synthetic pictures (target: >= 200/s).

Writes N synthetic 320x240 jpgs (the size of The Car Connection's pictures) to a temporary
folder, then times, in the same run: the naive way (full-size decode with cargen.images.load_rgb
plus SHA-256, one thread) as the baseline, and cargen.datasets.image_hashes.hash_images (one read, BLAKE2b,
JPEG draft-mode decode to a small grayscale thumbnail, pHash) on 1, 2, 4 and 8 threads.
Prints images/s and the ratio to the baseline. Files are in the page cache; a first run over a
cold disk can be slower (681 MB for the real 60,000 pictures).

  python benchmarks/prepare_speed.py            # 600 pictures
  python benchmarks/prepare_speed.py --count 2000
"""

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cargen.cli import run_main
from cargen.datasets.image_hashes import hash_images
from cargen.images import load_rgb

TARGET_IMAGES_PER_SECOND = 200


def synthetic_picture(seed, width=320, height=240):
    """A random scene of coloured shapes on a light background with sensor-like noise."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(150, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x0, y0 = int(rng.integers(0, width)), int(rng.integers(0, height))
        box = [x0, y0, x0 + int(rng.integers(20, 160)), y0 + int(rng.integers(10, 90))]
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    pixels = np.asarray(image, np.int16) + rng.integers(-6, 7, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def baseline(paths):
    """The naive pass: read, SHA-256, full decode to RGB, one file after another."""
    for path in paths:
        hashlib.sha256(Path(path).read_bytes()).hexdigest()
        load_rgb(path)


def timed(function):
    """Seconds one call takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main(argv=None):
    """Make the pictures, time each variant, print the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=600,
                        help="number of synthetic pictures (default: 600)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for index in range(args.count):
            path = Path(folder) / f"picture_{index:05d}.jpg"
            synthetic_picture(index).save(path, quality=85)
            paths.append(path)
        size_kb = sum(p.stat().st_size for p in paths) / len(paths) / 1024
        print(f"{args.count} synthetic 320x240 jpgs, {size_kb:.1f} KB each, "
              f"{os.cpu_count()} CPU cores")
        list(hash_images(paths[:20], workers=1))  # warm up imports and caches
        base = args.count / timed(lambda: baseline(paths))
        print(f"  {'baseline: full decode + sha256, 1 thread':<44} {base:8,.0f} images/s")
        best = 0.0
        for workers in (1, 2, 4, 8):
            rate = args.count / timed(lambda: list(hash_images(paths, workers=workers)))
            best = max(best, rate)
            print(f"  {f'hash_images, {workers} thread(s)':<44} {rate:8,.0f} images/s "
                  f"({rate / base:.1f}x baseline)")
    verdict = "meets" if best >= TARGET_IMAGES_PER_SECOND else "MISSES"
    print(f"best {best:,.0f} images/s {verdict} the target of {TARGET_IMAGES_PER_SECOND} images/s")
    return 0


if __name__ == "__main__":
    run_main(main)
