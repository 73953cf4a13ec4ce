"""Benchmark: classify_images' peak memory does not grow with the folder size.

Sorts folders of 2,000 and 20,000 photos (hard links to a pool of distinct 320x240 jpgs, so the
disk holds only the pool) with the real script in a child process, and prints each child's
peak resident memory. Target: < 2 GB for 20,000 and within 10% of the 2,000 figure.

  python benchmarks/sort_memory.py
  python benchmarks/sort_memory.py --sizes 2000 20000 60000
"""

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.sort_speed import build_run, make_photos
from cargen.cli import quiet_tensorflow, run_main

REPO = Path(__file__).resolve().parents[1]


def peak_rss_of(command):
    """Run `command`; return (exit status, peak resident memory in bytes, seconds)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{command[1]} failed: {process.stderr.read().decode()[-400:]}")
    scale = 1 if platform.system() == "Darwin" else 1024  # Linux reports KiB
    return process.returncode, usage.ru_maxrss * scale, time.perf_counter() - start


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 20000],
                        help="folder sizes to sort (default: 2000 20000)")
    parser.add_argument("--pool", type=int, default=500,
                        help="distinct photos the folders link to (default: 500)")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder (default: a temporary folder, removed after)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    quiet_tensorflow()
    work = Path(tempfile.mkdtemp(prefix="sort_memory_", dir=args.work))
    try:
        pool = work / "pool"
        make_photos(pool, args.pool)
        pool_files = sorted(pool.iterdir())
        run_dir, source = build_run(work / "compact_run", "compact", 112, "pad")
        print(f"default network from {source}; photos are hard links to {args.pool} jpgs")
        results = []
        for size in args.sizes:
            folder = work / f"pictures_{size}"
            folder.mkdir()
            for i in range(size):
                os.link(pool_files[i % len(pool_files)], folder / f"photo_{i:06d}.jpg")
            _, peak, seconds = peak_rss_of([sys.executable, "classifier/classify_images.py",
                                            "--model", str(run_dir), "--input", str(folder),
                                            "--threshold", "0.5", "--no-report"])
            results.append((size, peak))
            print(f"{size:>8,} images: peak RSS {peak / 2**20:,.0f} MiB ({seconds:.0f} s)")
            shutil.rmtree(folder)
        (small, small_peak), (large, large_peak) = results[0], results[-1]
        growth = large_peak / small_peak - 1
        ok = large_peak < 2 * 2**30 and growth <= 0.10
        print(f"target: < 2 GB at {large:,} and within 10% of {small:,}: "
              f"{'met' if ok else 'NOT met'} ({large_peak / 2**20:,.0f} MiB, {growth:+.1%})")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run_main(main)
