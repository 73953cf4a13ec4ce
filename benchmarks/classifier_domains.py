"""Leave-one-domain-out benchmark: how the viewpoint classifier does on photos unlike its own.

For every domain (by default the real labelled sets stanford-views, listing-views and
car-details) one classifier is trained with `train_model.py`'s recipe on the other domains plus
the renderer's pictures of `make pretrained` (its `other` set and its eight car views; always in
training: they are synthetic, no domain of real photos), its early stopping and calibration
watching the training sets' validation photos only. It is then measured on every photo of the
domain left out (train and validation splits): accuracy, macro-F1, `other` recall, the share
sorted at the threshold and the precision of the sorted. Prints a markdown table and writes it,
with every figure as JSON, into --out.

Examples:
  python benchmarks/classifier_domains.py --epochs 8
  python benchmarks/classifier_domains.py --domains listing-views --epochs 8 \\
      --train-options "--domain-augment 0 --augment 1" --out benchmarks/results/domains_old
  python benchmarks/classifier_domains.py --renderer-views none   # without the rendered cars

Finished fold runs in --out are reused (delete them to retrain); killed ones are resumed. A
call with fewer --domains updates their rows of the table and keeps the others.
"""

import argparse
import json
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from cargen.cli import UsageError, run_main

DOMAINS = ("stanford-views", "listing-views", "car-details")


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data",
                        help="folder holding the domains' datasets, each with train/ and "
                             "validation/ (default: ../shared/data next to the repository)")
    parser.add_argument("--domains", default=",".join(DOMAINS),
                        help="domains to leave out in turn, comma-separated; every one in "
                             f"--all-domains not left out is trained on (default: "
                             f"{','.join(DOMAINS)})")
    parser.add_argument("--all-domains", default=",".join(DOMAINS),
                        help=f"the domains of the benchmark (default: {','.join(DOMAINS)})")
    parser.add_argument("--other", type=Path, default=REPO / "data" / "pretrained_other",
                        help="the renderer's `other` pictures, mixed into every fold's training; "
                             "rendered when missing, 'none' for none "
                             "(default: data/pretrained_other)")
    parser.add_argument("--renderer-views", type=Path,
                        default=REPO / "data" / "pretrained_views",
                        help="the renderer's cars of the eight views, mixed into every fold's "
                             "training; rendered when missing, 'none' for none "
                             "(default: data/pretrained_views)")
    parser.add_argument("--epochs", type=int, default=8,
                        help="epochs per fold (default: 8)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="input size in pixels (default: train_model.py's)")
    parser.add_argument("--train-options", default="",
                        help="more train_model.py options for every fold, one quoted string, "
                             "e.g. \"--domain-augment 0\" for the old recipe (default: none)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "classifier_domains",
                        help="folder for the fold runs, table.md and domains.json "
                             "(default: benchmarks/results/classifier_domains)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence threshold of the sorted figures (default: 0.70)")
    return parser.parse_args(argv)


def domain_folders(root, names):
    """{name: dataset folder} for `names` under `root`; a one-line error for a missing one."""
    folders = {}
    for name in names:
        folder = Path(root) / name
        if not (folder / "train").is_dir() or not (folder / "validation").is_dir():
            raise UsageError(f"{folder}: domain dataset not found (needs train/ and "
                             f"validation/; set --data-root to the folder holding {name})")
        folders[name] = folder
    return folders


def renderer_sets(args):
    """{kind: folder} of the renderer's sets that every fold trains on (--other,
    --renderer-views), rendered first where missing."""
    from cargen.synthetic.training_sets import renderer_set
    return {kind: renderer_set(folder, kind)
            for kind, folder in (("other", args.other), ("views", args.renderer_views))
            if str(folder) != "none"}


def fold_options(left_out, folders, renderer, args):
    """train_model.py options of the fold that leaves `left_out` out, with the `renderer`
    sets added."""
    from classifier.train_model import parse_args as train_args
    training = [folder for name, folder in folders.items() if name != left_out]
    cli = ["--data", str(training[0]), "--out", str(args.out / f"without_{left_out}"),
           "--epochs", str(args.epochs), "--threshold", str(args.threshold), "--resume"]
    for folder in training[1:] + list(renderer.values()):
        cli += ["--add", str(folder)]
    if args.image_size:
        cli += ["--image-size", str(args.image_size)]
    cli += shlex.split(args.train_options)
    options = vars(train_args(cli))
    options.pop("dry_run")
    return options


def merged_rows(path, rows, order):
    """`rows` with the earlier folds in `path` (domains.json) that this call did not redo, in
    the order of the domains `order`."""
    by_domain = {}
    if Path(path).is_file():
        by_domain = {row["left_out"]: row for row in json.loads(Path(path).read_text())}
    by_domain.update({row["left_out"]: row for row in rows})
    return [by_domain[name] for name in order if name in by_domain]


def markdown_table(rows, threshold):
    """The benchmark's table: one row per domain left out."""
    def percent(value):
        return "n/a" if value is None else f"{value:.1%}"

    lines = [f"| left out | trained on | photos | accuracy | macro-F1 | `other` recall | "
             f"sorted at {threshold:.2f} | right of sorted | epochs | training minutes |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['left_out']} | {', '.join(row['trained_on'])} | {row['images']:,} "
                     f"| {percent(row['accuracy'])} | {row['macro_f1']:.3f} | "
                     f"{percent(row['other_recall'])} | {percent(row['sorted_share'])} | "
                     f"{percent(row['sorted_right'])} | {row['epochs_run']} | "
                     f"{row['training_minutes']:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    """Train one fold per left-out domain, measure it there and print the table."""
    args = parse_args(argv)
    from cargen.labelled_sets import every_labelled_photo
    from classifier.evaluation import evaluate_files, headline_figures
    from classifier.inference import load_classifier
    from classifier.training import train
    folders = domain_folders(args.data_root, args.all_domains.split(","))
    left_out_names = args.domains.split(",")
    unknown = [name for name in left_out_names if name not in folders]
    if unknown:
        raise UsageError(f"--domains {','.join(unknown)}: not in --all-domains "
                         f"({args.all_domains})")
    renderer = renderer_sets(args)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in left_out_names:
        options = fold_options(name, folders, renderer, args)
        print(f"== leaving out {name}: training on {options['data']} + "
              f"{', '.join(map(str, options['add']))}", flush=True)
        train_report = train(options)
        classifier = load_classifier(options["out"])
        report = evaluate_files(classifier, every_labelled_photo(folders[name]),
                                threshold=args.threshold)
        row = {"left_out": name, "trained_on": [n for n in folders if n != name],
               **headline_figures(report),
               "training_minutes": train_report.get("training_seconds", 0.0) / 60,
               "epochs_run": train_report.get("epochs_run"),
               "train_images_per_second": train_report.get("train_images_per_second"),
               "training_validation": train_report.get("per_source", {}),
               "renderer_sets": list(renderer),
               "train_options": args.train_options, "epochs": args.epochs}
        rows.append(row)
        print(f"left out {name}: accuracy {row['accuracy']:.1%} on {row['images']:,} photos",
              flush=True)
    rows = merged_rows(args.out / "domains.json", rows, list(folders))
    table = markdown_table(rows, args.threshold)
    (args.out / "table.md").write_text(table + "\n")
    (args.out / "domains.json").write_text(json.dumps(rows, indent=2) + "\n")
    print()
    print(table)
    print(f"\nwrote {args.out / 'table.md'} and {args.out / 'domains.json'}")
    return 0


if __name__ == "__main__":
    run_main(main)
