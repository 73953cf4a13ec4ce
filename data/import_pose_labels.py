"""Build a labelled view set from Stanford Cars photos and their published 3D pose annotations.

Each annotated photo goes to <out>/train/<view>/ or <out>/validation/<view>/ by the view nearest
its azimuth (yangyi02/finegrained-pose: 0 = side view with the front toward the image left,
pi/2 = front, pi = other side, 3pi/2 = rear); photos more than --max-offset degrees from every
view centre are dropped. Files are hard-linked (copied where linking fails), or re-encoded with
red and blue swapped under --swap-rb. The pickle is loaded with an unpickler that accepts only
plain data. Safe to kill and re-run with the same options.
"""

import argparse
from pathlib import Path

from cargen.cli import Progress, UsageError, add_old_spelling, run_main
from cargen.datasets.pose_labels import (
    MAX_OFFSET_LIMIT,
    check_options,
    load_plain_pickle,
    plan_import,
    write_labelled,
)
from cargen.labelled_sets import count_by_view, count_table
from cargen.views import CAR_VIEWS

EXAMPLES = """examples:
  python data/import_pose_labels.py --input cars_train/ --annotations train_anno.pkl \\
      --out data/labelled
  python data/import_pose_labels.py --input cars_train/ --annotations train_anno.pkl \\
      --input cars_test/ --annotations test_anno.pkl --out data/labelled --max-offset 10
  python data/import_pose_labels.py --input cars_train/ --annotations train_anno.pkl \\
      --out data/labelled_swapped --swap-rb

writes <out>/train/<view>/*.jpg, <out>/validation/<view>/*.jpg (names <images folder>_<file>),
<out>/labels.csv (file, view, split, azimuth_degrees, offset_degrees, source) and
<out>/import_options.json.
"""


def parse_args(argv):
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="import_pose_labels.py", description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", dest="images", type=Path, action="append", required=True,
                        help="folder of the photos, e.g. cars_train/ (repeat it together with "
                             "--annotations to import several sets)")
    parser.add_argument("--annotations", type=Path, action="append", required=True,
                        help="the pose pickle for that folder, e.g. train_anno.pkl")
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder, e.g. data/labelled")
    parser.add_argument("--max-offset", type=float, default=15.0,
                        help="drop photos more than this many degrees of azimuth from the "
                             f"nearest view centre, 0 to {MAX_OFFSET_LIMIT} (default: 15)")
    parser.add_argument("--validation-split", dest="val_share", type=float, default=0.15,
                        help="share of each view put in validation/ (default: 0.15)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the train/validation split (default: 0)")
    parser.add_argument("--swap-rb", action="store_true",
                        help="the photos have red and blue swapped: re-encode them corrected "
                             "(default: off, files are linked or copied unchanged)")
    add_old_spelling(parser, "--images", "--input")
    add_old_spelling(parser, "--val-share", "--validation-split")
    return parser.parse_args(argv)


def _summary(plan, counts, out, max_offset):
    lines = count_table(count_by_view(plan.pictures), CAR_VIEWS)
    lines.append(f"dropped: {plan.off_centre:,} more than {max_offset:g} degrees from a view "
                 f"centre, {len(plan.missing):,} listed but missing, {len(plan.bad):,} bad "
                 f"entries, {len(counts['unreadable']):,} unreadable")
    listed = (("missing", plan.missing),
              ("bad entry", [f"{key} ({reason})" for key, reason in plan.bad]),
              ("unreadable", [f"{path} ({reason})" for path, reason in counts["unreadable"]]))
    for label, paths in listed:
        for path in paths[:5]:
            lines.append(f"  {label}: {path}")
        if len(paths) > 5:
            lines.append(f"  ... and {len(paths) - 5:,} more {label} files")
    made = ", ".join(f"{counts[k]:,} {name}" for k, name in (
        ("linked", "hard links"), ("copied", "copies"),
        ("encoded", "re-encoded with red/blue swapped"))
        if counts[k])
    lines.append(f"wrote {made or 'nothing new'}; {counts['present']:,} were already there "
                 f"-> {out}/ (labels.csv lists them all)")
    return "\n".join(lines)


def main(argv=None):
    """Load the annotations, plan the set, write it, print the counts per view."""
    args = parse_args(argv)
    if len(args.images) != len(args.annotations):
        raise UsageError(f"give --input and --annotations in pairs ({len(args.images)} "
                         f"--input, {len(args.annotations)} --annotations)")
    if not 0 <= args.max_offset <= MAX_OFFSET_LIMIT:
        raise UsageError(f"--max-offset must be between 0 and {MAX_OFFSET_LIMIT} degrees "
                         f"(view centres are 45 degrees apart), not {args.max_offset:g}")
    if not 0 <= args.val_share < 1:
        raise UsageError(f"--val-share must be at least 0 and below 1, not {args.val_share:g}")
    for folder in args.images:
        if not folder.is_dir():
            raise UsageError(f"{folder}: not a folder (give the folder of photos, "
                             "e.g. cars_train/)")
    sources = [(folder, load_plain_pickle(pickle_path))
               for folder, pickle_path in zip(args.images, args.annotations)]
    options = {"images": [str(p.resolve()) for p in args.images],
               "annotations": [str(p.resolve()) for p in args.annotations],
               "max_offset": args.max_offset, "val_share": args.val_share, "seed": args.seed,
               "swap_rb": args.swap_rb}
    check_options(args.out, options)
    plan = plan_import(sources, args.max_offset, args.val_share, args.seed)
    progress = Progress(len(plan.pictures), label="writing")
    counts = write_labelled(plan, args.out, args.swap_rb, progress)
    progress.close()
    print(_summary(plan, counts, args.out, args.max_offset))
    return 0


if __name__ == "__main__":
    run_main(main)
