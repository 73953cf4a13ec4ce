"""Print the end of `make demo`: classifier accuracy, sort counts, generator figures, paths.

Reads what the pipeline's scripts wrote (the classifier's report.json, the sort's
predictions.csv, the generator's eval.json) and prints a short summary with the files to open.
"""

import argparse
import json
import time
from pathlib import Path

from cargen.cli import UsageError, run_main
from classifier.sort_manifest import Manifest, folder_counts
from generator.run_folder import SAMPLES_GRID_FILE, SAMPLES_WALK_FILE, RunFolder


def read_json(path):
    """The JSON object in `path`; UsageError if the step that writes it has not run."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: missing or unreadable ({error}); run `make demo` again") from None


def sort_counts(manifest):
    """Files per destination folder (view, unknown, errors) from a sort's predictions.csv."""
    if not Path(manifest).exists():
        raise UsageError(f"{manifest}: missing; run `make demo` again")
    counts, errors = folder_counts(Manifest(manifest, repair=False))
    if errors:
        counts["errors"] = errors
    return counts


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Summarise a finished `make demo` run (the Makefile passes every path).")
    parser.add_argument("--classifier", required=True, help="classifier run folder")
    parser.add_argument("--sorted", required=True, help="output folder of the sort")
    parser.add_argument("--generator", required=True, help="generator run folder")
    parser.add_argument("--samples", required=True, help="folder written by generate.py")
    parser.add_argument("--started", type=float, default=None,
                        help="Unix time at which the demo command started; the summary shows "
                             "the minutes since (default: not shown)")
    return parser.parse_args(argv)


def main(argv=None):
    """Print the demo summary."""
    args = parse_args(argv)
    report = read_json(Path(args.classifier) / "report.json")
    generator = RunFolder(args.generator)
    evaluation = read_json(generator.eval_report)
    counts = sort_counts(Path(args.sorted) / "predictions.csv")
    sorted_total = sum(n for name, n in counts.items() if name != "errors")
    views = ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
    minutes = (time.time() - args.started) / 60 if args.started else None
    lines = [
        "",
        "cargen demo finished" + (f" in {minutes:.1f} min" if minutes else ""),
        f"  classifier  validation accuracy {report['accuracy']:.1%}, macro-F1 "
        f"{report['macro_f1']:.3f}  ({args.classifier})",
        f"  sort        {sorted_total} pictures: {views}",
        f"  generator   view fidelity {evaluation['view_fidelity']:.1%} "
        f"(real photos {evaluation['real_view_fidelity']:.1%}), FD-classifier "
        f"{evaluation['fd_classifier']:.4g}, KID {evaluation['kid']:.4g}, diversity "
        f"{evaluation['diversity']:.3g} (real {evaluation['real_diversity']:.3g})",
        "",
        "Look at:",
        f"  {Path(args.sorted) / 'sort_report.png'}    the sort at a glance",
        f"  {generator.progress_gif}    the generator learning, epoch by epoch",
        f"  {Path(args.samples) / SAMPLES_GRID_FILE}    new cars from the trained generator",
        f"  {Path(args.samples) / SAMPLES_WALK_FILE}    a walk through latent space",
        f"  {Path(args.classifier) / 'confusion.png'}    the classifier's confusion matrix",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    run_main(main)
