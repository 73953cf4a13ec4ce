"""Benchmark: fine-tuning a trained classifier on a hundred labelled photos of a new domain.

What a user does with the labelling page, measured: N photos of a domain the model has not
seen are drawn at random from the domain's train/ split and exported the labelling page's way
(OUT/labelled/train and validation, stratified, --validation-split held back), the model is
fine-tuned on them with `train_model.py --init MODEL` (its defaults: a tenth of the learning
rate, 15 epochs, early stopping on the exported validation photos), and both models are
measured on the domain's own validation/ split, which the fine-tuning never sees: accuracy,
macro-F1, `other` recall, share sorted at 0.70 and precision of the sorted, and the minutes the
fine-tuning took.

The honest MODEL is one that never saw the domain: a fold of the leave-one-domain-out benchmark,
e.g. benchmarks/results/classifier_domains/without_listing-views for the listing photos.

  python benchmarks/fine_tuning.py \\
      --model benchmarks/results/classifier_domains/without_listing-views \\
      --data ../shared/data/listing-views
  python benchmarks/fine_tuning.py --model M --data D --photos 300 --train-options "--epochs 30"

A finished fine-tuning in --out is reused (delete OUT/finetuned to redo it); a killed one is
resumed.
"""

import argparse
import json
import random
import shlex
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from cargen.cli import UsageError, run_main


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True,
                        help="classifier run folder to fine-tune (one that never saw --data)")
    parser.add_argument("--data", type=Path, required=True,
                        help="labelled dataset of the new domain: the photos are drawn from "
                             "its train/, the figures measured on its validation/")
    parser.add_argument("--photos", type=int, default=100,
                        help="labelled photos the user gives (default: 100)")
    parser.add_argument("--validation-split", type=float, default=0.2,
                        help="share of them exported for validation, as the labelling page "
                             "does (default: 0.2)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the draw and of the split (default: 0)")
    parser.add_argument("--train-options", default="",
                        help="more train_model.py options, one quoted string (default: none: "
                             "the --init defaults)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "fine_tuning",
                        help="folder for the exported photos, the fine-tuned run and "
                             "fine_tuning.json (default: benchmarks/results/fine_tuning)")
    return parser.parse_args(argv)


def drawn_photos(folder, count, seed):
    """`count` photos drawn at random (seeded) from the labelled folder `folder`, as
    `Placement`s named by their view and file name."""
    from cargen.labelled_sets import Placement, read_view_folders
    files = read_view_folders(folder)
    if count < 2 or count > len(files):
        raise UsageError(f"--photos {count}: {folder} has {len(files)} labelled photos "
                         f"(ask for 2 to {len(files)})")
    chosen = random.Random(seed).sample(range(len(files)), count)
    return [Placement(Path(files.paths[i]), Path(files.paths[i]).name, files.views[i])
            for i in sorted(chosen)]


def export_labelled(out, placements, share, seed):
    """Write the drawn photos as the labelling page's export: out/train and out/validation."""
    from cargen.labelled_sets import count_by_view, split_placements, write_labelled_set
    placed = split_placements(placements, share, seed)
    write_labelled_set(out, placed, remove_unlisted=True)
    return count_by_view(placed)


def measured(run_dir, folder):
    """Headline figures of the classifier in `run_dir` on the labelled folder `folder`."""
    from classifier.evaluation import evaluate_files, headline_figures
    from classifier.inference import load_classifier
    from classifier.training_data import read_view_folders
    report = evaluate_files(load_classifier(run_dir), read_view_folders(folder))
    return headline_figures(report)


def row(name, figures):
    """One line of the printed table."""
    def percent(value):
        return "n/a" if value is None else f"{value:.1%}"

    return (f"| {name} | {percent(figures['accuracy'])} | {figures['macro_f1']:.3f} | "
            f"{percent(figures['other_recall'])} | {percent(figures['sorted_share'])} | "
            f"{percent(figures['sorted_right'])} |")


def main(argv=None):
    """Export the drawn photos, fine-tune, measure before and after, print the table."""
    args = parse_args(argv)
    from classifier.train_model import parse_args as train_args
    from classifier.training import train
    for folder in (args.data / "train", args.data / "validation"):
        if not folder.is_dir():
            raise UsageError(f"{folder}: not found (--data needs train/ and validation/)")
    if not (args.model / "classes.json").is_file():
        raise UsageError(f"{args.model}: not a classifier run folder (no classes.json)")
    labelled, finetuned = args.out / "labelled", args.out / "finetuned"
    counts = export_labelled(labelled, drawn_photos(args.data / "train", args.photos, args.seed),
                             args.validation_split, args.seed)
    print(f"{args.photos} labelled photos of {args.data.name}: "
          + ", ".join(f"{view} {train}+{validation}" for view, (train, validation)
                      in counts.items()), flush=True)
    options = vars(train_args(["--data", str(labelled), "--init", str(args.model),
                               "--out", str(finetuned), "--resume",
                               *shlex.split(args.train_options)]))
    options.pop("dry_run")
    start = time.perf_counter()
    report = train(options)
    wall_minutes = (time.perf_counter() - start) / 60
    before = measured(args.model, args.data / "validation")
    after = measured(finetuned, args.data / "validation")
    result = {"model": str(args.model), "data": str(args.data), "photos": args.photos,
              "exported": counts, "train_options": args.train_options,
              "epochs_run": report.get("epochs_run"),
              "training_minutes": report.get("training_seconds", 0.0) / 60,
              "wall_minutes": wall_minutes, "before": before, "after": after}
    (args.out / "fine_tuning.json").write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(f"on {before['images']:,} validation photos of {args.data.name} (never trained on):")
    print("| model | accuracy | macro-F1 | `other` recall | sorted at 0.70 | right of sorted |")
    print("|---|---|---|---|---|---|")
    print(row(f"before: {args.model.name}", before))
    print(row(f"fine-tuned on {args.photos} photos", after))
    print(f"\nfine-tuning: {result['epochs_run']} epochs, {result['training_minutes']:.1f} "
          f"minutes of training ({wall_minutes:.1f} wall-clock with decoding); wrote "
          f"{args.out / 'fine_tuning.json'}")
    return 0


if __name__ == "__main__":
    run_main(main)
