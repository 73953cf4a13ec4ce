"""Check a flat folder of The Car Connection pictures once: names, duplicates, bad files.

Parses every file name into its 16 fields, finds exact and near duplicates, moves corrupt, empty
and non-image files into <folder>/rejected/ (and with --dedupe all but one picture of each
duplicate group into <folder>/duplicates/), writes reports and prints a summary. Nothing is
ever deleted; it is safe to kill at any moment and to re-run.
"""

import argparse
import os
from pathlib import Path

from cargen.cli import UsageError, run_main
from cargen.datasets.prepare_pictures import (
    DUPLICATES_DIR,
    REJECTED_DIR,
    default_report_dir,
    prepare_folder,
    restore_folder,
)

EXAMPLES = """examples:
  python data/prepare_car_connection.py data/pictures            # reports; bad files -> rejected/
  python data/prepare_car_connection.py data/pictures --dry-run  # reports only, move nothing
  python data/prepare_car_connection.py data/pictures --dedupe   # also copies -> duplicates/
  python data/prepare_car_connection.py data/pictures --restore  # undo: move everything back

reports (in --report, default <folder>_report/ next to the folder):
  metadata.csv    file, make, model, year, msrp, ..., body_style, id,
                  image_width, image_height, file_bytes
  duplicates.csv  group, file, role (keep/exact/near), distance, content_hash, perceptual_hash
  rejected.csv    file, original_name, reason
  unparsed.csv    file, reason (names not in the Make_Model_Year_..._id.jpg format)
  summary.txt     the summary printed at the end
"""


def parse_args(argv):
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="prepare_car_connection.py", description=__doc__,
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path,
                        help="the flat folder of pictures (e.g. data/pictures)")
    parser.add_argument("--report", type=Path, default=None,
                        help="folder for the reports (default: <folder>_report next to the folder)")
    parser.add_argument("--dedupe", action="store_true",
                        help=f"move all but one picture of each duplicate group into "
                             f"<folder>/{DUPLICATES_DIR}/ (default: only report them)")
    parser.add_argument("--max-distance", type=int, default=6,
                        help="largest perceptual-hash distance (bits of 64) for near duplicates; "
                             "-1 finds exact copies only (default: 6)")
    parser.add_argument("--max-colour-difference", type=float, default=12.0,
                        help="near duplicates must also agree in colour: largest mean difference "
                             "(0-255) of their 4x4 colour grids (default: 12)")
    parser.add_argument("--workers", type=int, default=max(2, min(8, 2 * (os.cpu_count() or 1))),
                        help="threads reading and hashing pictures (default: twice the CPU "
                             "count, at most 8)")
    parser.add_argument("--dry-run", action="store_true",
                        help="write the reports (and the hidden hash cache) but move nothing "
                             "(default: off)")
    parser.add_argument("--restore", action="store_true",
                        help=f"move every file in {REJECTED_DIR}/ and {DUPLICATES_DIR}/ back into "
                             "the folder under its original name, then stop")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the preparation (or the restore) and print the summary."""
    args = parse_args(argv)
    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: not a folder (give the folder holding the jpgs)")
    if not -1 <= args.max_distance <= 31:
        raise UsageError(f"--max-distance must be between -1 and 31, not {args.max_distance}")
    if args.max_colour_difference < 0:
        raise UsageError("--max-colour-difference must be 0 or more, "
                         f"not {args.max_colour_difference:g}")
    if args.workers < 1:
        raise UsageError(f"--workers must be at least 1, not {args.workers}")
    if args.restore:
        moved = restore_folder(args.folder)
        print(f"moved {moved:,} files from {REJECTED_DIR}/ and {DUPLICATES_DIR}/ back into "
              f"{args.folder}")
        return 0
    report = args.report or default_report_dir(args.folder)
    result = prepare_folder(args.folder, report, dedupe=args.dedupe, dry_run=args.dry_run,
                            max_distance=args.max_distance,
                            max_colour_difference=args.max_colour_difference,
                            workers=args.workers)
    print(result.summary)
    return 0


if __name__ == "__main__":
    run_main(main)
