"""Classifier quality on real photos: the default network against the 2021 `seed` network.

Trains both architectures with train_model.py's defaults on the same data (by default the real
`stanford-views` photos plus the synthetic renderer's `other` pictures), then prints one row per
architecture: validation accuracy, macro-F1, expected calibration error before and after
temperature scaling, the share of photos sorted at confidence 0.70 and the share of those that
are right, the out-of-distribution mis-sort rate, and the training time.

The out-of-distribution set is made up here (never downloaded): noise textures, plain colours,
gradients, stripes and checkerboards, simple drawn houses and faces. A made-up picture is
mis-sorted when the model puts it into a car view with confidence >= the threshold.

Examples:
  python data/synthesize.py data/synthetic --per-view 500
  python benchmarks/classifier_quality.py --data ../shared/data/stanford-views \\
      --other data/synthetic/train/other
  python benchmarks/classifier_quality.py --data data/synthetic --archs compact --epochs 10

Finished runs in --runs are reused (delete them to retrain); killed runs are resumed.
"""

import argparse
import json
import tempfile
from pathlib import Path

from cargen.cli import UsageError, run_main
from classifier.out_of_distribution import made_up_images, out_of_distribution_rate


def other_only_folder(other, root):
    """A labelled folder holding only `other/` (a link to the `other` pictures given)."""
    other = Path(other)
    if not other.is_dir():
        raise UsageError(f"{other}: folder of `other` pictures not found")
    folder = Path(root) / "other_only"
    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "other"
    if not link.exists():
        link.symlink_to(other.resolve(), target_is_directory=True)
    return folder


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/stanford-views"),
                        help="dataset with train/ and validation/ view folders "
                             "(default: ../shared/data/stanford-views)")
    parser.add_argument("--other", type=Path, default=Path("data/synthetic/train/other"),
                        help="folder of `other` pictures mixed into training, 'none' for none "
                             "(default: data/synthetic/train/other)")
    parser.add_argument("--archs", default="compact,seed",
                        help="architectures to compare, comma-separated (default: compact,seed)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs for every architecture (default: train_model.py's default)")
    parser.add_argument("--runs", type=Path, default=Path("classifier/models/quality"),
                        help="where the run folders go (default: classifier/models/quality)")
    parser.add_argument("--ood", type=int, default=450,
                        help="number of made-up out-of-distribution pictures (default: 450)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence threshold (default: 0.70)")
    return parser.parse_args(argv)


def main(argv=None):
    """Train (or reuse) one run per architecture and print the quality table."""
    args = parse_args(argv)
    from classifier.inference import load_classifier
    from classifier.train_model import parse_args as train_args
    from classifier.training import train
    add = []
    scratch = tempfile.TemporaryDirectory(prefix="classifier_quality_")
    if str(args.other) != "none":
        add.append(other_only_folder(args.other, scratch.name))
    ood_paths = made_up_images(Path(scratch.name) / "ood", args.ood)
    rows = []
    for arch in args.archs.split(","):
        cli = ["--data", str(args.data), "--arch", arch, "--out", str(args.runs / arch),
               "--resume", "--threshold", str(args.threshold)]
        for folder in add:
            cli += ["--add", str(folder)]
        if args.epochs:
            cli += ["--epochs", str(args.epochs)]
        options = vars(train_args(cli))
        options.pop("dry_run")
        print(f"== {arch}: {' '.join(cli)}", flush=True)
        report = train(options)
        classifier = load_classifier(args.runs / arch)
        ood = out_of_distribution_rate(classifier, ood_paths, args.threshold)
        report["ood_missorted"] = round(ood, 4)
        (args.runs / arch / "quality.json").write_text(json.dumps(report, indent=2) + "\n")
        rows.append((arch, report))
    print()
    print("| arch | accuracy | macro-F1 | ECE raw -> calibrated | sorted at "
          f"{args.threshold:.2f} | right of sorted | OOD mis-sorted | train minutes | "
          "train img/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for arch, r in rows:
        minutes = r.get("training_seconds", float("nan")) / 60
        print(f"| {arch} | {r['accuracy']:.1%} | {r['macro_f1']:.3f} | "
              f"{r['uncalibrated']['ece']:.3f} -> {r['ece']:.3f} | {r['sorted_share']:.1%} | "
              f"{r['sorted_right']:.1%} | {r['ood_missorted']:.1%} | {minutes:.1f} | "
              f"{r.get('train_images_per_second', float('nan')):.0f} |")
    for arch, r in rows:
        recalls = ", ".join(f"{v} {row['recall']:.2f}" for v, row in r["per_class"].items()
                            if row["support"])
        print(f"{arch} recall per view: {recalls}")
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    run_main(main)
