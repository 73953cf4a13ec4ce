"""Speed of the synthetic dataset writer (data/synthesize.py): >= 100 pictures/s at 320x240.

Writes, in a temporary folder, a dataset of about --n pictures at --size (all nine views, as
`write_dataset` does for the CLI: render, JPEG-encode, write) twice in the same run: with one
process (the baseline) and with --workers processes. Prints pictures/s of each, the ratio,
CPU seconds per picture, and whether the target is met. Other programs running on the machine
slow it down; the CPU time per picture is the figure they disturb least.

  python benchmarks/synthesize_speed.py
  python benchmarks/synthesize_speed.py --n 2000 --workers 2
"""

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from cargen.cli import run_main
from cargen.synthetic.synthetic_dataset import Options, write_dataset
from cargen.views import VIEWS

TARGET_RATE = 100.0


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=900,
                        help="pictures per timed run, rounded to whole views (default: 900)")
    parser.add_argument("--workers", type=int, default=2,
                        help="processes of the parallel run (default: 2)")
    parser.add_argument("--size", default="320x240", help="picture size (default: 320x240)")
    return parser.parse_args(argv)


def _cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_run(folder, options, workers):
    """(pictures/s, CPU seconds per picture) of writing one dataset."""
    cpu = _cpu_seconds()
    start = time.perf_counter()
    summary = write_dataset(folder, options, workers=workers, progress=False)
    seconds = time.perf_counter() - start
    return summary["images"] / seconds, (_cpu_seconds() - cpu) / summary["images"]


def main(argv=None):
    args = parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    per_view = max(1, args.n // len(VIEWS))
    options = Options(per_view=per_view, validation_per_view=0, pictures=0, width=width,
                      height=height, seed=1)
    print(f"synthesize speed: {per_view * len(VIEWS)} pictures of {width}x{height}, "
          f"{os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        base_rate, base_cpu = timed_run(Path(tmp) / "one", options, 1)
        print(f"  1 process    : {base_rate:6.1f} pictures/s  ({base_cpu * 1000:.1f} ms CPU each)")
        rate, cpu = timed_run(Path(tmp) / "many", options, args.workers)
        print(f"  {args.workers} processes  : {rate:6.1f} pictures/s  ({cpu * 1000:.1f} ms CPU each)"
              f"  x{rate / base_rate:.2f} the single process")
    verdict = "met" if rate >= TARGET_RATE else "NOT met"
    print(f"target >= {TARGET_RATE:.0f} pictures/s with {args.workers} processes: {verdict} "
          f"({rate:.1f}); CPU-bound ceiling on {args.workers} idle cores: "
          f"{args.workers / cpu:.0f} pictures/s")
    return 0


if __name__ == "__main__":
    run_main(main)
