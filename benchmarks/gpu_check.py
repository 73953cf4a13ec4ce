"""Check WGAN training on a CUDA GPU in a few minutes: both training modes, two sizes, two
precisions, with the real training code (`generator.training.train`).

Prints the devices, then trains --iterations generator iterations (one epoch) of the
conditional WGAN (train_wgan.py --views) and of the one-view WGAN at every --sizes, in float32
and with --mixed-precision, on synthetic pictures written to a temporary folder. For each run
it prints images/s (critic real images per second, median over the iterations after the first,
which compiles) and checks that every loss in metrics.csv is finite and the grid was written.
Exits 1 when a check fails or the runs took longer than --max-minutes, else 0. Without a GPU
it says so and exits 0 (--allow-cpu runs the checks anyway, e.g. tiny ones to try the script).

  python benchmarks/gpu_check.py                     # 200 iterations at 64 and 128 px, ~5 min
  python benchmarks/gpu_check.py --allow-cpu --iterations 3 --sizes 16 --width 8 --batch-size 8
"""

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from cargen.cli import quiet_tensorflow, run_main
from cargen.views import CAR_VIEWS

PICTURES_PER_VIEW = 64


def write_pictures(root, views=CAR_VIEWS, count=PICTURES_PER_VIEW, seed=0):
    """root/<view>/ with `count` 96x64 pictures each: a box of a colour per view on a plain
    background (enough for the networks to have something to learn)."""
    rng = np.random.default_rng(seed)
    for index, view in enumerate(views):
        folder = root / view
        folder.mkdir(parents=True)
        colour = tuple(int(c) for c in (40 + 25 * index, 200 - 20 * index, 90))
        for i in range(count):
            image = Image.new("RGB", (96, 64), tuple(int(c) for c in rng.integers(150, 255, 3)))
            draw = ImageDraw.Draw(image)
            left = int(rng.integers(4, 24))
            draw.rectangle([left, 20, left + 60, 48], fill=colour)
            draw.ellipse([left + 4, 40, left + 18, 54], fill=(15, 15, 15))
            image.save(folder / f"car_{i:03d}.png")
    return root


def check_run(folder):
    """(images/s, problems) of a finished run folder: the median images/s after the first
    iteration, and what is wrong (non-finite losses, no grid)."""
    rows = folder.read_csv(folder.metrics_file)
    problems = []
    bad = [row["step"] for row in rows
           if not all(math.isfinite(float(row[key])) for key in row if row[key] != "")]
    if not rows:
        problems.append("no metrics rows")
    if bad:
        problems.append(f"losses not finite at iteration(s) {', '.join(bad[:5])}")
    if not folder.grids():
        problems.append("no grid written")
    speeds = [float(row["images_per_second"]) for row in rows[1:]] or [0.0]
    return float(np.median(speeds)), problems


def train_one(data_root, out, views, size, mixed, args):
    """Train one run with train_wgan.py's options; returns (seconds, images/s, problems)."""
    from generator.run_folder import RunFolder
    from generator.train_wgan import parse_args, resolve_options
    from generator.training import train
    data = ["--data-root", str(data_root)] + (["--views", "all"] if views else
                                             ["--view", "front_left"])
    argv = [*data, "--image-size", str(size), "--width", str(args.width), "--batch-size",
            str(args.batch_size), "--epochs", "1", "--steps-per-epoch", str(args.iterations),
            "--out", str(out), "--no-progress"] + (["--mixed-precision"] if mixed else [])
    start = time.perf_counter()
    try:
        with open(os.devnull, "w") as quiet:
            train(resolve_options(parse_args(argv)), out=quiet)
    except Exception as error:  # any failure of a run is a failed check, reported by name
        return time.perf_counter() - start, 0.0, [f"{type(error).__name__}: {error}"]
    speed, problems = check_run(RunFolder(out))
    return time.perf_counter() - start, speed, problems


def main(argv=None):
    """Print the devices, train every configuration, print the table; 1 if a check failed."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200,
                        help="generator iterations per run (default: %(default)s)")
    parser.add_argument("--sizes", default="64,128",
                        help="image sizes, comma-separated (default: %(default)s)")
    parser.add_argument("--width", type=int, default=64,
                        help="network width (default: %(default)s, DCGAN's)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="real images per critic update (default: %(default)s)")
    parser.add_argument("--max-minutes", type=float, default=5.0,
                        help="fail when all runs together take longer (default: %(default)s)")
    parser.add_argument("--allow-cpu", action="store_true",
                        help="run the checks even without a GPU (default: exit 0 at once)")
    args = parser.parse_args(argv)
    tf = quiet_tensorflow()
    gpus = tf.config.list_physical_devices("GPU")
    for device in tf.config.list_physical_devices():
        print(f"device: {device.name} ({device.device_type})")
    if not gpus:
        print("no GPU: TensorFlow sees no CUDA device" + ("; checking on the CPU" if
                                                          args.allow_cpu else "; nothing to check"))
        if not args.allow_cpu:
            return 0
    sizes = [int(size) for size in args.sizes.split(",")]
    failures, start = 0, time.perf_counter()
    print(f"{'mode':<12} {'size':>5} {'precision':<10} {'seconds':>8} {'images/s':>9}  check")
    with tempfile.TemporaryDirectory() as temporary:
        root = write_pictures(Path(temporary) / "pictures")
        for views in (True, False):
            for size in sizes:
                for mixed in (False, True):
                    out = Path(temporary) / f"run_{views}_{size}_{mixed}"
                    seconds, speed, problems = train_one(root, out, views, size, mixed, args)
                    failures += bool(problems)
                    print(f"{'conditional' if views else 'one view':<12} {size:>5} "
                          f"{'mixed' if mixed else 'float32':<10} {seconds:>8.1f} {speed:>9,.0f}"
                          f"  {'; '.join(problems) or 'ok'}", flush=True)
    minutes = (time.perf_counter() - start) / 60
    if minutes > args.max_minutes:
        print(f"too slow: {minutes:.1f} minutes, more than --max-minutes {args.max_minutes}")
        failures += 1
    print(f"{'FAILED' if failures else 'ok'}: {failures} problem(s), {minutes:.1f} minutes")
    return 1 if failures else 0


if __name__ == "__main__":
    run_main(main)
