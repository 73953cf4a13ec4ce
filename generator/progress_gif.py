"""Write a small copy of a run's progress GIF (for a README): fewer, smaller frames.

Example (what `make media` runs after `make demo`):
  python generator/progress_gif.py generator/models/demo_front_left media/demo_progress.gif
"""

import argparse
from pathlib import Path

from cargen.cli import UsageError, run_main
from generator.run_folder import GRID_FILES, IMAGES_DIR, RunFolder


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="generator run folder (with images/)")
    parser.add_argument("out", type=Path, help="GIF file to write")
    parser.add_argument("--frames", type=int, default=24,
                        help="most frames, evenly spaced over the epochs, the last included "
                             "(default: 24)")
    parser.add_argument("--width", type=int, default=330,
                        help="frame width in pixels at most (default: 330, 64 px tiles at their own size)")
    parser.add_argument("--max-mb", type=float, default=2.0,
                        help="size limit: frames are dropped until the file fits (default: 2)")
    parser.add_argument("--seconds-per-frame", type=float, default=0.3,
                        help="display time of a frame (default: 0.3)")
    return parser.parse_args(argv)


def small_progress_gif(run, out, frames=24, width=330, max_mb=2.0, seconds_per_frame=0.3):
    """Write `out` from `run`'s grids within `max_mb`; returns (frames used, bytes)."""
    folder = RunFolder(run)
    if not folder.grids():
        raise UsageError(f"{run}: no {IMAGES_DIR}/{GRID_FILES} (not a trained run folder)")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    while True:
        folder.write_gif(seconds_per_frame, out, max_frames=frames, max_side=width)
        size = Path(out).stat().st_size
        if size <= max_mb * 2**20:
            return frames, size
        if frames <= 2:
            raise UsageError(f"{out}: {size / 2**20:.1f} MB with 2 frames; lower --width")
        frames = max(2, int(frames * max_mb * 2**20 / size * 0.95))


def main(argv=None):
    """Write the small GIF and say what it holds."""
    args = parse_args(argv)
    frames, size = small_progress_gif(args.run, args.out, args.frames, args.width, args.max_mb,
                                      args.seconds_per_frame)
    print(f"wrote {args.out}: {frames} frames, {size / 2**20:.2f} MB")
    return 0


if __name__ == "__main__":
    run_main(main)
