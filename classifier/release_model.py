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
      --released classifier/models/pretrained_released --out classifier/pretrained
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


def _count_line(counts):
    return ", ".join(f"{view} {count:,}" for view, count in counts.items())


def model_card(measured_options, report, released_options, released_report, ood_rate):
    """MODEL_CARD.md text from the two runs' options and reports."""
    classes = report["classes"]
    unc = report["uncalibrated"]
    per_view = "\n".join(
        f"| {view} | {row['support']} | {row['recall']:.1%} | {row['precision']:.1%} |"
        for view, row in report["per_class"].items() if row["support"])
    released_train = sum(released_options["train_counts"].values())
    released_holdout = sum(released_options["holdout_counts"].values())
    measured_train = sum(measured_options["train_counts"].values())
    minutes = released_report.get("training_seconds", 0) / 60
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
    return f"""# cargen viewpoint classifier (`classifier/pretrained`)

Tells a car photo's viewpoint, one of: {views}.

Views are the car's own sides: `front_left` is a front three-quarter view with the car's front
pointing to the image's left, `left` a pure side profile facing left, `rear_left` a rear
three-quarter view showing the car's left side; `other` is anything that is not one of the
eight exterior views.

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
- Trained with `classifier/train_model.py`'s default options: at most {released_options["epochs"]}
  epochs, flips with label swap, balanced class weights, label smoothing
  {released_options["label_smoothing"]}, mosaic outliers {released_options["outliers"]}.

## Training data and licences

- **stanford-views**: real street and lot photos from the training split of the Stanford Cars
  dataset (Krause et al., *3D Object Representations for Fine-Grained Categorization*, 2013),
  each labelled with its view from the 3D azimuth annotations of the fine-grained pose dataset
  (Wang et al., `yangyi02/finegrained-pose`). **Both are licensed for non-commercial research
  use only; so is this model.** The released weights saw the training and validation photos.
- **`other`**: pictures drawn by this project's synthetic renderer (`data/synthesize.py
  --views other`: rendered close-ups of wheels, lamps, badges, dashboards, seats, engines and
  cargo space, painted landscapes and buildings), plus scrambled mosaics of photo pieces made
  during training.
- The released model saw {released_train:,} training pictures:
  {_count_line(released_options["train_counts"])}.

## How good it is

Measured on the {report["images"]} stanford-views validation photos by a model trained the same
way with those photos held back ({measured_train:,} training pictures):

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

`confusion.png` is that run's confusion matrix; `report.json` holds every figure. Training the
released model took {minutes:.0f} minutes on a 2-core CPU (shared with other jobs at the time).

## Known limits

- It has never seen a real interior, engine, wheel or badge photo: `other` is learned from
  synthetic renders and mosaics. A dealer set is about a third such pictures; some will land in
  a view folder. Look at `sort_report.png` after a sort and retrain with your own labelled
  `other` photos (`classifier/label_images.py`, then `train_model.py --add`) if needed.
- Its real photos are street and parking-lot shots. Press photos on white backgrounds,
  turntable shots and night photos differ from them and will be less accurate.
- The validation photos were chosen within 15 degrees of their view's centre; photos between
  two views (for example between `front_left` and `left`) are less certain and more often go to
  `unknown`.
- Trucks, buses and motorbikes are outside its training data.

## Reproduce

`make pretrained` (needs `../shared/data/stanford-views`) runs the synthesizer, both trainings
and this folder's assembly with `classifier/release_model.py`.
"""


def folder_size(folder):
    """Total bytes of the files in `folder`."""
    return sum(path.stat().st_size for path in Path(folder).iterdir() if path.is_file())


def release(measured, released, out, ood_count=450):
    """Write the shipped folder `out` from the measured and released runs; returns its size."""
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
                  released_model_trained_on=released_options["train_counts"])
    (partial / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    shutil.copy2(Path(measured) / "confusion.png", partial / "confusion.png")
    (partial / "MODEL_CARD.md").write_text(
        model_card(measured_options, report, released_options, released_report, ood_rate))
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
    size, ood_rate, report = release(args.measured, args.released, args.out, args.ood)
    print(f"validation (held back): accuracy {report['accuracy']:.1%}, macro-F1 "
          f"{report['macro_f1']:.3f}, sorted at {report['threshold']:.2f} "
          f"{report['sorted_share']:.1%} ({report['sorted_right']:.1%} right), "
          f"out-of-distribution mis-sorted {ood_rate:.1%}")
    print(f"wrote {args.out} ({size / 2**20:.1f} MB): {', '.join(SHIPPED_FILES)}")
    return 0


if __name__ == "__main__":
    run_main(main)
