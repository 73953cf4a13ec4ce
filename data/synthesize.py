"""Make the built-in synthetic dataset: rendered cars from eight views plus `other` pictures.

Thin CLI over cargen/synthetic/synthetic_dataset.py (layout, seeds, workers) and the renderer in
cargen/synthetic/ (render_car.py, render_scenes.py, car_names.py).
"""

import argparse
import os
import re
from pathlib import Path

from cargen.cli import UsageError, run_main
from cargen.synthetic.synthetic_dataset import Options, contact_sheet, write_dataset
from cargen.views import VIEWS

EXAMPLES = """examples:
  python data/synthesize.py data/synthetic                      # ~3,500 pictures in about a minute
  python data/synthesize.py data/synthetic --per-view 500 --overwrite
  python data/synthesize.py data/tiny --per-view 20 --validation-per-view 5 --pictures 20 \\
      --size 160x120 --seed 3
  python data/synthesize.py data/synthetic --views front,rear,other --pictures 0
  python data/synthesize.py --contact-sheet media/synthetic_views.png   # only the sheet

output (in OUT):
  train/<view>/*.jpg, validation/<view>/*.jpg   labelled pictures (what train_model.py reads)
  pictures/*.jpg          unlabelled, named like The Car Connection's
                          (Make_Model_Year_MSRP_..._BodyStyle_abc.jpg)
  pictures_labels.csv     file,view: the true view of each picture in pictures/
  synthesis.json          the options; the same options and seed give byte-identical files
"""


def parse_size(text):
    """'320x240' -> (320, 240); UsageError for anything else or a side under 16 pixels."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise UsageError(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 320x240")
    width, height = int(match.group(1)), int(match.group(2))
    if min(width, height) < 16 or max(width, height) > 4096:
        raise UsageError(f"--size {text!r}: each side must be 16 to 4096 pixels")
    return width, height


def parse_views(text):
    """'front,rear' -> ('front', 'rear') in VIEWS order; UsageError naming an unknown view."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in VIEWS:
            raise UsageError(f"--views: unknown view {name!r}; valid views: {', '.join(VIEWS)}")
    if not names:
        raise UsageError("--views: give at least one view")
    return tuple(view for view in VIEWS if view in names)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0] + "\n\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path,
                        help="dataset folder to create (refused if it exists and is not empty, "
                             "unless --overwrite); optional with --contact-sheet")
    parser.add_argument("--per-view", type=int, default=300,
                        help="training pictures per view (default: 300)")
    parser.add_argument("--validation-per-view", type=int, default=None,
                        help="validation pictures per view (default: a fifth of --per-view)")
    parser.add_argument("--pictures", type=int, default=300,
                        help="unlabelled pictures in OUT/pictures/, all views mixed "
                             "(default: 300)")
    parser.add_argument("--views", default=",".join(VIEWS),
                        help="comma-separated labelled views to make (default: all nine)")
    parser.add_argument("--size", default="320x240",
                        help="picture size WIDTHxHEIGHT in pixels (default: 320x240, like "
                             "The Car Connection)")
    parser.add_argument("--portrait", type=float, default=0.0,
                        help="share 0-1 of the labelled pictures drawn upright, height and "
                             "width swapped, like phone shots (default: 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="rendering processes (default: the number of CPUs, "
                             f"{os.cpu_count() or 1} here); the output does not depend on it")
    parser.add_argument("--quality", type=int, default=90,
                        help="JPEG quality 1-100 (default: 90)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace OUT if it is an earlier synthetic dataset (default: refuse)")
    parser.add_argument("--contact-sheet", type=Path, default=None, metavar="PATH",
                        help="also draw a PNG grid of examples per view, labelled (default: none)")
    parser.add_argument("--sheet-columns", type=int, default=6,
                        help="examples per view on the contact sheet (default: 6)")
    args = parser.parse_args(argv)
    if args.out is None and args.contact_sheet is None:
        raise UsageError("give an output folder OUT, or --contact-sheet PATH (see --help)")
    args.validation_per_view = (max(1, args.per_view // 5) if args.per_view > 0 else 0) \
        if args.validation_per_view is None else args.validation_per_view
    for name in ("per_view", "validation_per_view", "pictures"):
        if getattr(args, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be 0 or more, "
                             f"got {getattr(args, name)}")
    if args.out is not None and args.per_view + args.validation_per_view + args.pictures == 0:
        raise UsageError("nothing to make: --per-view, --validation-per-view and --pictures "
                         "are all 0")
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, got {args.workers}")
    if not 0 <= args.portrait <= 1:
        raise UsageError(f"--portrait must be 0 to 1, got {args.portrait}")
    if not 1 <= args.quality <= 100:
        raise UsageError(f"--quality must be 1 to 100, got {args.quality}")
    if args.sheet_columns < 1:
        raise UsageError(f"--sheet-columns must be at least 1, got {args.sheet_columns}")
    args.width, args.height = parse_size(args.size)
    args.views = parse_views(args.views)
    return args


def main(argv=None):
    args = parse_args(argv)
    options = Options(per_view=args.per_view, validation_per_view=args.validation_per_view,
                      pictures=args.pictures, width=args.width, height=args.height,
                      seed=args.seed, quality=args.quality, views=args.views,
                      portrait=args.portrait)
    if args.out is not None:
        summary = write_dataset(args.out, options, workers=args.workers,
                                overwrite=args.overwrite)
        counts = summary["counts"]
        train = sum(counts["train"].values())
        validation = sum(counts["validation"].values())
        pictures = sum(counts["pictures"].values())
        print(f"wrote {summary['images']} pictures to {args.out} in {summary['seconds']:.1f} s "
              f"({summary['rate']:.0f} pictures/s, {args.workers} worker"
              f"{'s' if args.workers != 1 else ''})")
        print(f"  train: {train} ({args.per_view} per view x {len(options.views)} views), "
              f"validation: {validation}, pictures/: {pictures} "
              f"(true views in {args.out / 'pictures_labels.csv'})")
    if args.contact_sheet is not None:
        path = contact_sheet(args.contact_sheet, options, columns=args.sheet_columns)
        print(f"contact sheet: {path}")
    return 0


if __name__ == "__main__":
    run_main(main)
