"""Sort a flat folder of car photos into one folder per viewpoint with a trained classifier."""

import argparse
import os
from pathlib import Path

from cargen.cli import Progress, UsageError, add_old_spelling, run_main

PRETRAINED = Path(__file__).resolve().parent / "pretrained"

EXAMPLES = """\
examples:
  # sort data/pictures in place with the shipped model (classifier/pretrained):
  # data/pictures/front/, .../rear_left/, .../unknown/
  python classifier/classify_images.py --input data/pictures

  # the same with a model you trained
  python classifier/classify_images.py --model classifier/models/compact_112px --input data/pictures

  # see what would happen, touching nothing
  python classifier/classify_images.py --model classifier/models/compact_112px --input data/pictures --dry-run

  # copy into another folder, only confident predictions go to a view folder
  python classifier/classify_images.py --model classifier/models/compact_112px --input data/pictures \\
      --copy --out data/sorted --threshold 0.9

  # put every file back where it was
  python classifier/classify_images.py --input data/pictures --undo

Killed at any moment, the same command finishes the job; no file is lost, duplicated or
overwritten. The manifest <output>/predictions.csv lists every file, where it went, the
predicted view, its confidence and every class's probability (or why it could not be read).
"""


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=PRETRAINED if PRETRAINED.is_dir() else None,
                        help="classifier run folder (model.keras + classes.json) (default: "
                             "classifier/pretrained when it exists, else required)")
    parser.add_argument("--input", type=Path, required=True,
                        help="folder whose images (directly inside it, not in sub-folders) are "
                             "sorted (required)")
    parser.add_argument("--out", dest="output", type=Path, default=None,
                        help="folder that receives <view>/, unknown/ and predictions.csv "
                             "(default: the input folder)")
    parser.add_argument("--threshold", type=float, default=0.7,
                        help="minimum top probability for a view folder; below it the file goes "
                             "to unknown/ (default: 0.7)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--move", dest="mode", action="store_const", const="move",
                      help="move the files (the default)")
    mode.add_argument("--copy", dest="mode", action="store_const", const="copy",
                      help="copy the files, leaving the input folder as it is")
    parser.set_defaults(mode="move")
    parser.add_argument("--dry-run", action="store_true",
                        help="predict and print what would happen, change nothing")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="images per prediction batch (default: 256)")
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip-average", dest="flip_average", action="store_const", const=True,
                      help="average the prediction with that of the mirrored image for the "
                           "photos the model is unsure of (below classes.json's "
                           "flip_average_below) (default: as the model's classes.json says)")
    flip.add_argument("--no-flip-average", dest="flip_average", action="store_const",
                      const=False, help="predict on the image only (overrides classes.json)")
    parser.set_defaults(flip_average=None)
    parser.add_argument("--no-report", action="store_true",
                        help="do not write the contact sheet <output>/sort_report.png")
    parser.add_argument("--undo", action="store_true",
                        help="put every sorted file back where it was, using the manifest "
                             "(--model not needed)")
    add_old_spelling(parser, "--output", "--out")
    return parser.parse_args(argv)


def write_report(output, classes):
    """Write the contact sheet of the view folders; return its path."""
    from cargen.contact_sheet import contact_sheet
    from classifier.sort_manifest import REPORT_NAME, UNKNOWN
    folders = [(name, output / name) for name in [*classes, UNKNOWN]]
    return contact_sheet(folders, output / REPORT_NAME, title=f"cargen sort of {output}")


def undo(args):
    """Run --undo."""
    from classifier.sort_manifest import MANIFEST_NAME
    from classifier.undo_sort import undo_sort
    output = args.output or args.input
    if not (output / MANIFEST_NAME).exists():
        raise UsageError(f"{output / MANIFEST_NAME}: no manifest, nothing to undo")
    try:
        result = undo_sort(output, batch_size=max(args.batch_size, 1))
    except OSError as error:
        raise UsageError(f"{error.filename or output}: {error.strerror or error}; fix it and "
                         "run --undo again to finish (nothing was lost)") from None
    print(f"restored {result.restored} files, removed {result.removed_copies} copies")
    for wanted, used in result.renamed[:10]:
        print(f"  {wanted} was taken: restored as {used}")
    for path in result.missing[:10]:
        print(f"  missing (moved or deleted since the sort): {path}")
    for path in result.kept[:10]:
        print(f"  kept: {path} differs from its original")
    if result.complete:
        print(f"{output}: back as before the sort")
        return 0
    print(f"{output}: not everything could be put back; predictions.csv is kept")
    return 1


def main(argv=None):
    """Sort (or undo a sort of) a folder of photos."""
    args = parse_args(argv)
    if args.undo:
        return undo(args)
    from classifier.sorting import check_has_images, check_sort_options
    check_sort_options(args.input, args.threshold, args.mode, args.batch_size)
    check_has_images(args.input, args.output)
    if args.model is None:
        raise UsageError("--model is required (a classifier run folder, e.g. "
                         "classifier/models/compact_112px): no classifier/pretrained folder")
    from classifier.inference import check_run_folder, load_classifier
    check_run_folder(args.model)
    if args.model.resolve() == PRETRAINED:
        print(f"model: the shipped pretrained classifier ({os.path.relpath(PRETRAINED)}, see "
              "its MODEL_CARD.md); --model DIR uses your own")
    else:
        print(f"model: {args.model}")
    from classifier.sort_summary import summary_table
    from classifier.sorting import sort_folder
    classifier = load_classifier(args.model)
    bar = []

    def progress(count, total):
        if not bar:
            bar.append(Progress(total, "dry run" if args.dry_run else "sorting", always=True))
        bar[0].update(count)

    try:
        result = sort_folder(classifier, args.input, args.output, args.threshold, args.mode,
                             args.dry_run, args.batch_size, args.flip_average, progress)
    except OSError as error:  # disk full, permissions: every file is still in one piece
        raise UsageError(f"{error.filename or args.input}: {error.strerror or error}; fix it and "
                         "run the same command again to finish (nothing was lost)") from None
    if bar:
        bar[0].close()
    print(summary_table(result))
    output = args.output or args.input
    if args.dry_run:
        for src, dst in result.planned[:10]:
            print(f"would {args.mode} {src} -> {dst}")
        print("dry run: nothing was changed")
        return 0
    print(f"manifest: {output / 'predictions.csv'}")
    if not args.no_report:
        print(f"report:   {write_report(output, classifier.classes)}")
    return 0


if __name__ == "__main__":
    run_main(main)
