"""Peak memory of WGAN training against the size of the picture folder.

Trains (two generator iterations after decoding and caching every picture) on a folder of
2,000 and one of 20,000 generated pictures, each in a fresh process, and prints each process's
peak resident memory. The input caches images as uint8 (64 x 64 x 3 = 12 KiB each) and never
holds the set as float32, so 18,000 more pictures should cost about 220 MB, far under the
1.5 GB target; the seed's float32 array of the whole set is shown for comparison.

  python benchmarks/wgan_memory.py
  python benchmarks/wgan_memory.py --sizes 1000,10000 --image-size 128
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cargen.cli import run_main

TARGET_EXTRA_BYTES = 1.5e9


def write_pictures(folder, count, seed=0):
    """`count` 160x120 JPEGs of a coloured box on a background, each different."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        pixels = np.full((120, 160, 3), rng.integers(120, 255, 3), np.uint8)
        top, left = rng.integers(10, 60), rng.integers(5, 60)
        pixels[top:top + 40, left:left + 90] = rng.integers(0, 120, 3)
        pixels[::7] = rng.integers(0, 255, (pixels[::7].shape), np.uint8)  # defeat tiny JPEGs
        Image.fromarray(pixels).save(folder / f"car_{i:05d}.jpg", quality=85)


def child(folder, image_size, out):
    """Train briefly on `folder` in this process and print its peak RSS in bytes."""
    from generator.training import train
    options = {"data": str(folder), "view": "front_left", "image_size": image_size,
               "channels": 3, "fit": "pad", "cache": None, "loss": "wgan", "latent_dim": 100,
               "width": 16, "batch": 64, "n_critic": 5, "lr": None, "clip_value": 0.01,
               "gp_weight": 10.0, "beta_1": 0.5, "beta_2": 0.9, "epochs": 1,
               "steps_per_epoch": 2, "seed": 0, "models_dir": None, "out": out,
               "resume": False, "grid": 5, "progress": False, "classifier": None,
               "eval_every": 1, "eval_samples": 0, "jit": False, "mixed_precision": False,
               "strategy": "default"}
    with open(os.devnull, "w") as quiet:
        train(options, out=quiet)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def main(argv=None):
    """Make the folders, measure each in a child process, print the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,20000",
                        help="picture counts, smallest first (default: %(default)s)")
    parser.add_argument("--image-size", type=int, default=64, help="pixels (default: 64)")
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child[0], args.image_size, args.child[1])
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        start = time.perf_counter()
        write_pictures(scratch / "all", max(sizes))
        print(f"wrote {max(sizes):,} pictures (160x120 JPEG) in "
              f"{time.perf_counter() - start:.0f} s")
        results = []
        for size in sizes:
            folder = scratch / f"front_left_{size}"
            folder.mkdir()
            for path in sorted((scratch / "all").iterdir())[:size]:
                os.link(path, folder / path.name)
            start = time.perf_counter()
            output = subprocess.run(
                [sys.executable, __file__, "--image-size", str(args.image_size), "--child",
                 str(folder), str(scratch / f"run_{size}")],
                capture_output=True, text=True, check=True).stdout
            peak = int(output.split()[-1])
            results.append((size, peak, time.perf_counter() - start))
    float32_bytes = lambda n: n * args.image_size ** 2 * 3 * 4  # noqa: E731
    print(f"{'pictures':>9} {'peak RSS':>10} {'seconds':>8} {'seed float32 array':>19}")
    for size, peak, seconds in results:
        print(f"{size:>9,} {peak / 1e9:>8.2f} GB {seconds:>8.0f} "
              f"{float32_bytes(size) / 1e9:>16.2f} GB")
    extra = results[-1][1] - results[0][1]
    verdict = "within" if extra <= TARGET_EXTRA_BYTES else "OVER"
    print(f"{results[-1][0]:,} pictures cost {extra / 1e9:.2f} GB more than {results[0][0]:,} "
          f"({verdict} the 1.5 GB target; uint8 cache of the difference: "
          f"{(results[-1][0] - results[0][0]) * args.image_size ** 2 * 3 / 1e9:.2f} GB)")
    return 0


if __name__ == "__main__":
    run_main(main)
