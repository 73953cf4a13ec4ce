"""Benchmark: does re-estimating a classifier's batch-norm statistics on a new source's photos
help it there?

Every labelled photo of --data (its train/ and validation/ splits, or one folder of views) is
predicted by --model as it is, then again after `classifier.adaptation.adapt_batch_norm` on
--photos of them drawn at random (their labels unused: what a sort of an unlabelled folder can
do), once per --blends value (the share of the new statistics against the training photos').
Prints accuracy, macro-F1, `other` recall, share sorted at 0.70 and precision of the sorted per
row and writes them to --out. Measured on a fold of the leave-one-domain-out benchmark it tells
whether the adaptation helps on photos of a source the model never saw:

  python benchmarks/batch_norm_adaptation.py \\
      --model benchmarks/results/classifier_domains/without_listing-views \\
      --data ../shared/data/listing-views
"""

import argparse
import time
from pathlib import Path

from cargen.cli import UsageError, run_main

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="classifier run folder")
    parser.add_argument("--data", type=Path, required=True,
                        help="labelled photos: train/ and validation/ of view folders (both "
                             "measured), or one folder of view folders")
    parser.add_argument("--photos", type=int, default=2000,
                        help="photos the statistics are estimated on (default: %(default)s)")
    parser.add_argument("--blends", default="1,0.5",
                        help="shares of the new statistics to measure, comma-separated, each "
                             "in (0, 1] (default: %(default)s)")
    parser.add_argument("--first", default="all",
                        help="how many of the first batch-norm layers to adapt, comma-separated "
                             "values each measured ('all' for every one) (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence threshold of the sorted figures (default: 0.70)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "batch_norm_adaptation",
                        help="folder for adaptation.json and table.md "
                             "(default: benchmarks/results/batch_norm_adaptation)")
    args = parser.parse_args(argv)
    given = args.blends
    try:
        args.blends = [float(value) for value in given.split(",")]
    except ValueError:
        raise UsageError(f"--blends {given}: not a list of numbers") from None
    if not all(0 < blend <= 1 for blend in args.blends):
        raise UsageError(f"--blends {given}: every value must be in (0, 1]")
    try:
        args.first = [None if value == "all" else int(value) for value in args.first.split(",")]
    except ValueError:
        raise UsageError(f"--first {args.first}: not a list of counts or 'all'") from None
    return args


def markdown_table(rows, threshold):
    """One row per adaptation."""
    def percent(value):
        return "n/a" if value is None else f"{value:.1%}"

    lines = [f"| batch-norm statistics | accuracy | macro-F1 | `other` recall | "
             f"sorted at {threshold:.2f} | right of sorted |", "|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {percent(row['accuracy'])} | {row['macro_f1']:.3f} | "
                     f"{percent(row['other_recall'])} | {percent(row['sorted_share'])} | "
                     f"{percent(row['sorted_right'])} |")
    return "\n".join(lines)


def main(argv=None):
    """Measure --model on --data without and with each adaptation and print the table."""
    args = parse_args(argv)
    from cargen.labelled_sets import every_labelled_photo
    from cargen.safe_files import write_json, write_text
    from classifier.adaptation import adapt_batch_norm
    from classifier.evaluation import evaluate_files, headline_figures
    from classifier.inference import load_classifier
    files = every_labelled_photo(args.data)
    if not files:
        raise UsageError(f"{args.data}: no images found in its view folders")
    rows, seconds = {}, {}
    variants = [(blend, first) for first in args.first for blend in args.blends]
    for blend, first in [(None, None)] + variants:
        classifier = load_classifier(args.model)
        name = "the training photos'"
        if blend is not None:
            start = time.perf_counter()
            used = adapt_batch_norm(classifier, files.paths, args.photos, blend, first)
            if not used:
                raise UsageError(f"{args.data}: too few readable photos to adapt on")
            layers = "every layer" if first is None else f"the first {first} layers"
            name = (f"{layers}: {blend:g} x these {used:,} photos' + {1 - blend:g} x the "
                    f"training photos'")
            seconds[name] = time.perf_counter() - start
        rows[name] = headline_figures(evaluate_files(classifier, files,
                                                     threshold=args.threshold))
    table = markdown_table(rows, args.threshold)
    print(f"{args.model} on {len(files):,} photos of {args.data}\n{table}")
    for name, value in seconds.items():
        print(f"adapting ({name}) took {value:.1f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "adaptation.json",
               {"model": str(args.model), "data": str(args.data), "photos": args.photos,
                "figures": rows, "adaptation_seconds": seconds})
    write_text(args.out / "table.md", table + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    run_main(main)
