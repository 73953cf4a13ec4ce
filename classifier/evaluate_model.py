"""Measure a trained viewpoint classifier on any labelled folder of views.

Examples:
  python classifier/evaluate_model.py --model classifier/models/real \\
      --data ../shared/data/stanford-views
  python classifier/evaluate_model.py --model classifier/models/real --data my_views \\
      --threshold 0.8 --json my_views_report.json --confusion my_views_confusion.png

--data is a folder with one sub-folder per view, or a dataset folder whose validation/ (else
train/) holds them.
"""

import argparse
import json
from pathlib import Path

from cargen.cli import run_main


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, type=Path, help="classifier run folder")
    parser.add_argument("--data", required=True, type=Path,
                        help="labelled folder of views (or a dataset with validation/)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence threshold for the sorted/right figures (default: 0.70)")
    flip = parser.add_mutually_exclusive_group()
    flip.add_argument("--flip-average", dest="flip_average", action="store_true", default=None,
                      help="average over the mirrored photo (default: the model's setting)")
    flip.add_argument("--no-flip-average", dest="flip_average", action="store_false",
                      help="predict on the photo alone")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the report as JSON here (default: none)")
    parser.add_argument("--confusion", type=Path, default=None,
                        help="also save the confusion matrix PNG here (default: none)")
    return parser.parse_args(argv)


def main(argv=None):
    """Evaluate and print the report; returns the exit status."""
    args = parse_args(argv)
    from cargen.cli import UsageError
    from cargen.labelled_sets import evaluation_folder, read_view_folders
    from classifier.evaluation import evaluate_files
    from classifier.inference import load_classifier
    from classifier.report import format_report, plot_confusion
    classifier = load_classifier(args.model)
    folder = evaluation_folder(args.data)
    files = read_view_folders(folder)
    if not files:
        raise UsageError(f"{folder}: no images found in its view folders")
    report = evaluate_files(classifier, files, args.batch_size, args.flip_average, args.threshold)
    for path in report["unreadable_files"]:
        print(f"skipped unreadable image: {path}")
    print(f"{args.model} on {folder}")
    print(format_report(report))
    flip = "off"
    if report["flip_average"]:
        below = report["flip_average_below"]
        flip = "on" if below >= 1 else f"on below confidence {below:.2f}"
    print(f"temperature {report['temperature']:.3f}, flip averaging {flip}; "
          f"ECE before calibration "
          f"{report['uncalibrated']['ece']:.3f}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if args.confusion:
        plot_confusion(report, args.confusion, title=folder.name)
    return 0


if __name__ == "__main__":
    run_main(main)
