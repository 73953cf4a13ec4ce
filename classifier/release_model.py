"""Assemble the shipped classifier folder (classifier/pretrained) from two finished runs.

`make pretrained` trains the default classifier twice with the same options: once with the
validation photos held back (the *measured* run, whose report is the model's published
figures) and once on training and validation photos together (the *released* run, whose
weights are shipped). This script copies the released model and its calibrated classes.json,
the measured run's report.json and confusion.png, measures the out-of-distribution mis-sort
rate of the released model on made-up pictures, and writes MODEL_CARD.md. The folder is
replaced in one rename, so a killed run leaves the previous folder intact.

Example:
  python classifier/release_model.py --measured classifier/models/pretrained_measured \\
      --released classifier/models/pretrained_released \\
      --domains benchmarks/results/classifier_domains --out classifier/pretrained
"""

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from cargen.cli import UsageError, run_main

SHIPPED_FILES = ("model.keras", "classes.json", "report.json", "confusion.png", "MODEL_CARD.md")
SIZE_LIMIT_BYTES = 10 * 1024 * 1024


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--measured", type=Path, required=True,
                        help="finished run trained with the validation photos held back; its "
                             "report is published (required)")
    parser.add_argument("--released", type=Path, required=True,
                        help="finished run trained on all photos with the same options; its "
                             "model is shipped (required)")
    parser.add_argument("--out", type=Path, default=Path("classifier/pretrained"),
                        help="folder to write (default: classifier/pretrained)")
    parser.add_argument("--domains", type=Path,
                        default=Path("benchmarks/results/classifier_domains"),
                        help="results folder of benchmarks/classifier_domains.py whose table "
                             "goes into the model card; skipped when missing (default: "
                             "benchmarks/results/classifier_domains)")
    parser.add_argument("--ood", type=int, default=450,
                        help="made-up out-of-distribution pictures to measure (default: 450)")
    return parser.parse_args(argv)


def read_run(run_dir):
    """(options, report) of a finished classifier run folder; a one-line error otherwise."""
    run_dir = Path(run_dir)
    for name in ("options.json", "report.json", "model.keras", "classes.json", "confusion.png"):
        if not (run_dir / name).is_file():
            raise UsageError(f"{run_dir}: not a finished classifier run ({name} missing)")
    return (json.loads((run_dir / "options.json").read_text()),
            json.loads((run_dir / "report.json").read_text()))


def check_same_recipe(measured_options, released_options):
    """Refuse two runs whose training options differ beyond their data and output folder."""
    ignored = {"data", "add", "out", "resume", "train_counts", "holdout_counts",
               "validation_counts"}
    differ = sorted(key for key in set(measured_options) | set(released_options)
                    if key not in ignored
                    and measured_options.get(key) != released_options.get(key))
    if differ:
        raise UsageError(f"the measured and released runs were trained with different options: "
                         f"{', '.join(differ)}")


# Licence terms of the sources the shipped model is trained on, from their READMEs.
SOURCE_TERMS = {
    "stanford-views": (
        "street and lot photos from the training split of the Stanford Cars dataset (Krause et "
        "al., *3D Object Representations for Fine-Grained Categorization*, 2013), views from "
        "the 3D azimuth annotations of the fine-grained pose dataset (Wang et al., "
        "`yangyi02/finegrained-pose`). **For non-commercial research use only.**"),
    "listing-views": (
        "used-car sale listing photos (auto.ria.com, Ukraine; many carry the site's watermark) "
        "with real interiors and close-ups as `other`, from `ustymhentosh/"
        "CarPhotoQualityEnforcer`, which states no licence: used for this project's "
        "development, measurement and training only, and named here as its README asks."),
    "car-details": (
        "interiors (`ustymhentosh/CarPhotoQualityEnforcer`, no licence stated: this project's "
        "development, measurement and training only) and photos of used car parts from a parts "
        "seller's listings (`vumichien/car-classification`, MIT licence), all `other`."),
    "pretrained_other": (
        "this project's synthetic renderer (`cargen.synthetic.training_sets`' `other` set: "
        "close-ups of wheels, lamps, badges, dashboards, seats, engines and cargo space, painted "
        "landscapes and buildings); the project's own."),
    "pretrained_views": (
        "this project's synthetic renderer (`cargen.synthetic.training_sets`' `views` set: cars "
        "of the eight views, procedurally shaped and painted, on studio, street and landscape "
        "backgrounds); the project's own."),
}


def _count_line(counts):
    return ", ".join(f"{view} {count:,}" for view, count in counts.items())


def _source_name(folder):
    folder = Path(folder)
    return folder.parent.name if folder.name in ("train", "validation") else folder.name


def source_counts(options):
    """{source name: {view: photos}} that a run's `data` and `add` folders gave its training
    (calibration hold-out included): a dataset's train/ (its validation/ is the run's
    validation), or a folder of views; a split folder added on its own (the released run's
    `--add DATASET/validation`) counts towards its dataset."""
    from classifier.training_data import read_view_folders
    counts = {}
    folders = [Path(options["data"]) / "train" if (Path(options["data"]) / "train").is_dir()
               else Path(options["data"])]
    for extra in map(Path, options.get("add") or []):
        if (extra / "train").is_dir():
            folders.append(extra / "train")  # its validation/ is validation, not training
        else:
            folders.append(extra)
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"{folder}: a training folder in {options['out']}/options.json is "
                             f"not there (relative paths are read from the current folder)")
        files = read_view_folders(folder)
        total = counts.setdefault(_source_name(folder), {})
        for view, n in files.counts().items():
            total[view] = total.get(view, 0) + n
    return counts


def _percent(value):
    return "n/a" if value is None else f"{value:.1%}"


def _source_table(per_source):
    rows = [f"| {name} | {row['images']} | {_percent(row['accuracy'])} | {row['macro_f1']:.3f} "
            f"| {_percent(row['other_recall'])} | {_percent(row['sorted_share'])} | "
            f"{_percent(row['sorted_right'])} |" for name, row in per_source.items()]
    return "\n".join(["| source | validation photos | accuracy | macro-F1 | `other` recall | "
                      "sorted at 0.70 | right of sorted |", "|---|---|---|---|---|---|---|",
                      *rows])


def domain_rows(folder):
    """The leave-one-domain-out rows in `folder`/domains.json, or [] when there are none."""
    path = Path(folder) / "domains.json" if folder else None
    if path is None or not path.is_file():
        return []
    return json.loads(path.read_text())


def _renderer_words(row):
    """What of the renderer's a fold trained on ("other" alone in rows written before the
    rendered cars were added)."""
    words = {"other": "renderer `other`", "views": "rendered car views"}
    return " and ".join(words[kind] for kind in row.get("renderer_sets", ["other"]))


def _domain_table(rows):
    if not rows:
        return ("Not measured with this release's runs: `benchmarks/classifier_domains.py` "
                "writes the table; the recipe's latest figures are in the README's \"On photos "
                "from a source it never saw\".")
    lines = ["| left out | trained on | photos | accuracy | macro-F1 | `other` recall | "
             "sorted at 0.70 | right of sorted | epochs |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['left_out']} | {', '.join(row['trained_on'])} + "
                     f"{_renderer_words(row)} "
                     f"| {row['images']:,} | {_percent(row['accuracy'])} | "
                     f"{row['macro_f1']:.3f} | {_percent(row['other_recall'])} | "
                     f"{_percent(row['sorted_share'])} | {_percent(row['sorted_right'])} | "
                     f"{row['epochs_run']} |")
    return "\n".join(lines)


def model_card(measured_options, report, released_options, released_report, ood_rate,
               domains=()):
    """MODEL_CARD.md text from the two runs' options and reports and the leave-one-domain-out
    rows `domains`."""
    classes = report["classes"]
    unc = report["uncalibrated"]
    per_view = "\n".join(
        f"| {view} | {row['support']} | {row['recall']:.1%} | {row['precision']:.1%} |"
        for view, row in report["per_class"].items() if row["support"])
    released_holdout = sum(released_options["holdout_counts"].values())
    measured_train = sum(measured_options["train_counts"].values())
    minutes = report.get("training_seconds", 0) / 60
    below = released_options.get("flip_average_below", 1.0)
    if not released_options["flip_average"]:
        flip = "off (`flip_average` in `classes.json`)."
    elif below >= 1:
        flip = ("on (`flip_average` in `classes.json`): every photo and its mirror image\n"
                "  are both predicted and averaged, the mirror's views swapped left/right.")
    else:
        flip = (f"on for the photos it is unsure of (`flip_average`,\n"
                f"  `flip_average_below` in `classes.json`): a photo whose calibrated confidence "
                f"is below\n  {below:.2f} is predicted again mirrored and the two averaged, the "
                f"mirror's views swapped\n  left/right; sure photos skip the second pass.")
    views = ", ".join(f"`{c}`" for c in classes)
    sources = source_counts(released_options)
    if released_options["out"] == measured_options["out"]:
        measured_by = "Measured by the shipped weights themselves, trained"
        seen = ("The shipped weights are the measured run's: trained on the training photos of "
                "every source,\nwith the validation photos held back (counts include the photos "
                "held back for calibration):")
    else:
        measured_by = "Measured by a model trained the same way"
        seen = ("The released weights saw the training and validation photos of every source "
                "(counts include\nthe photos held back for calibration):")
    source_lines = "\n".join(
        f"- **{name}** ({sum(counts.values()):,} pictures: {_count_line(counts)}): "
        f"{SOURCE_TERMS.get(name, 'see the dataset README for its terms.')}"
        for name, counts in sources.items())
    return f"""# cargen viewpoint classifier (`classifier/pretrained`)

Tells a car photo's viewpoint, one of: {views}.

Views are the car's own sides: `front_left` is a front three-quarter view with the car's front
pointing to the image's left, `left` a pure side profile facing left, `rear_left` a rear
three-quarter view showing the car's left side; `other` is anything that is not one of the
eight exterior views (interiors, engines, wheels, badges, parts, scenery).

```
python classifier/classify_images.py --input DIR      # sorts DIR with this model
```

## Model

- Network `{released_options["arch"]}`: {released_report["parameters"]:,} parameters,
  {released_report["multiply_adds"] / 1e6:.1f} M multiply-adds per image at {released_options["image_size"]} px; a photo
  is made square by `{released_options["fit"]}`.
- Test-time flip averaging is {flip}
- Confidence is temperature-scaled: T = {released_report.get("temperature", 1.0):.3f}, fitted on
  {released_holdout:,} training photos held back from the weights' training and stored in
  `classes.json`, so the sorter's 0.70 threshold means what it says.
- Trained with `classifier/train_model.py`'s default recipe for {released_options["epochs"]} epochs: flips with
  label swap, balanced class weights, label smoothing {released_options["label_smoothing"]}, mosaic outliers
  {released_options["outliers"]}, geometric and colour augmentation {released_options["augment"]}, photo-condition
  augmentation {released_options.get("domain_augment", 0.0)} (car smaller, off-centre or cut by the border on
  studio, plain or busy backgrounds; text and watermark overlays; colour casts, blur, noise,
  JPEG artefacts).

## Training data and licences

{seen}

{source_lines}

Because stanford-views is for non-commercial research use only, **so is this model**.

## How good it is

{measured_by} with every source's validation photos held back
({measured_train:,} training pictures), on those {report["images"]} validation photos:

{_source_table(report.get("per_source", {}))}

All sources together:

| figure | value |
|---|---|
| accuracy | {report["accuracy"]:.1%} |
| macro-F1 | {report["macro_f1"]:.3f} |
| expected calibration error, raw -> temperature-scaled | {unc["ece"]:.3f} -> {report["ece"]:.3f} |
| photos sorted at confidence >= {report["threshold"]:.2f} | {report["sorted_share"]:.1%} |
| of those, in the right view | {report["sorted_right"]:.1%} |
| made-up non-car pictures sorted into a car view (released model) | {ood_rate:.1%} |

| view | validation photos | recall | precision |
|---|---|---|---|
{per_view}

Photos from a source it has never seen: the leave-one-domain-out benchmark
(`benchmarks/classifier_domains.py`) trains the same recipe without one source and measures it
on every photo of that source:

{_domain_table(list(domains))}

`confusion.png` is the measured run's confusion matrix; `report.json` holds every figure.
Training the measured run took {minutes:.0f} minutes ({report.get("epochs_run", "?")} epochs of {measured_train:,} photos at
{report.get("train_images_per_second", 0):.0f} images/s) on a 2-core CPU.

## Known limits

- Press photos (studio and white backgrounds) are only simulated by augmentation; no labelled
  press set was available. Night photos and turntable shots are likewise untested.
- The stanford-views validation photos were chosen within 15 degrees of their view's centre;
  photos between two views (for example between `front_left` and `left`) are less certain and
  more often go to `unknown`.
- Trucks, buses and motorbikes are outside its training data.
- Upright (portrait) photos of whole cars come from one source only: a third of listing-views'
  car photos are portrait, almost every other portrait picture it trained on is an interior or
  a part (`other`). Trained without listing-views, the same recipe called more than half of
  those portrait car photos `other` (docs/results.md, "Portrait photos"). Check a phone
  collection's portrait photos before trusting its `other` folder.
- For a collection unlike all of these, label a hundred of its photos
  (`classifier/label_images.py`) and fine-tune: `python classifier/train_model.py --data
  data/labelled --init classifier/pretrained --out classifier/models/finetuned`.

## Reproduce

`make pretrained` (needs `../shared/data` with the three labelled sets) runs the synthesizer,
both trainings and this folder's assembly with `classifier/release_model.py`.
"""


def folder_size(folder):
    """Total bytes of the files in `folder`."""
    return sum(path.stat().st_size for path in Path(folder).iterdir() if path.is_file())


def release(measured, released, out, ood_count=450, domains=None):
    """Write the shipped folder `out` from the measured and released runs (and the
    leave-one-domain-out results folder `domains`, if any); returns its size."""
    measured_options, report = read_run(measured)
    released_options, released_report = read_run(released)
    check_same_recipe(measured_options, released_options)
    from classifier.inference import load_classifier
    from classifier.out_of_distribution import made_up_images, out_of_distribution_rate
    classifier = load_classifier(released)
    with tempfile.TemporaryDirectory(prefix="release_ood_") as scratch:
        ood_rate = out_of_distribution_rate(classifier, made_up_images(scratch, ood_count),
                                            report["threshold"])
    out = Path(out)
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    shutil.copy2(Path(released) / "model.keras", partial / "model.keras")
    shutil.copy2(Path(released) / "classes.json", partial / "classes.json")
    report = dict(report, ood_missorted=round(ood_rate, 4),
                  measured_by=f"model trained without the validation photos ({Path(measured)})",
                  released_model_trained_on=released_options["train_counts"],
                  leave_one_domain_out=domain_rows(domains))
    (partial / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.copy2(Path(measured) / "confusion.png", partial / "confusion.png")
    (partial / "MODEL_CARD.md").write_text(
        model_card(measured_options, report, released_options, released_report, ood_rate,
                   domain_rows(domains)))
    size = folder_size(partial)
    if size > SIZE_LIMIT_BYTES:
        raise UsageError(f"{partial}: {size / 2**20:.1f} MB, over the 10 MB limit for a "
                         f"committed model")
    old = out.with_name(out.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        out.rename(old)
    partial.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    return size, ood_rate, report


def main(argv=None):
    """Assemble classifier/pretrained and print its figures."""
    args = parse_args(argv)
    size, ood_rate, report = release(args.measured, args.released, args.out, args.ood,
                                     args.domains)
    print(f"validation (held back): accuracy {report['accuracy']:.1%}, macro-F1 "
          f"{report['macro_f1']:.3f}, sorted at {report['threshold']:.2f} "
          f"{report['sorted_share']:.1%} ({report['sorted_right']:.1%} right), "
          f"out-of-distribution mis-sorted {ood_rate:.1%}")
    print(f"wrote {args.out} ({size / 2**20:.1f} MB): {', '.join(SHIPPED_FILES)}")
    return 0


if __name__ == "__main__":
    run_main(main)
