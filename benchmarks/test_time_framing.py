"""Benchmark: does framing a photo differently at test time help a classifier on a new source?

Every labelled photo of --data (its train/ and validation/ splits, or one folder of views) is
made square several ways and predicted by --model, each way averaged with its mirror image (as
the sorter's flip averaging does):

- pad: the whole photo, borders filled with its edge colour (the recipe's fit);
- stretch: squeezed to a square; crop: the central square;
- zoom_in: the central 80% of each side, padded; zoom_out: the padded square shrunk to 80% of
  its side on its edge colour (the car smaller in the frame).

It prints, for each framing alone and for pad averaged with each other framing (and all of them
averaged), accuracy, macro-F1, `other` recall, share sorted at 0.70 and precision of the sorted,
and writes them to --out. Measured on a fold of the leave-one-domain-out benchmark it tells
whether a framing helps on photos of a source the model never saw:

  python benchmarks/test_time_framing.py \\
      --model benchmarks/results/classifier_domains/without_listing-views \\
      --data ../shared/data/listing-views
"""

import argparse
from pathlib import Path

import numpy as np

from cargen.cli import Progress, UsageError, run_main

REPO = Path(__file__).resolve().parents[1]
FRAMINGS = ("pad", "stretch", "crop", "zoom_in", "zoom_out")
ZOOM = 0.8


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="classifier run folder")
    parser.add_argument("--data", type=Path, required=True,
                        help="labelled photos: train/ and validation/ of view folders (both "
                             "measured), or one folder of view folders")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="photos per prediction batch (default: %(default)s)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence threshold of the sorted figures (default: 0.70)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "benchmarks" / "results" / "test_time_framing",
                        help="folder for framing.json and table.md "
                             "(default: benchmarks/results/test_time_framing)")
    return parser.parse_args(argv)


def framed(picture, size):
    """{framing: (size, size, 3) uint8 array} of a PIL RGB picture."""
    from PIL import Image
    from cargen.aspect import edge_colour, fit_square
    width, height = picture.size
    squares = {fit: fit_square(picture, size, fit) for fit in ("pad", "stretch", "crop")}
    inner_w, inner_h = max(1, round(width * ZOOM)), max(1, round(height * ZOOM))
    left, top = (width - inner_w) // 2, (height - inner_h) // 2
    squares["zoom_in"] = fit_square(picture.crop((left, top, left + inner_w, top + inner_h)),
                                    size, "pad")
    canvas = Image.new("RGB", (size, size), edge_colour(squares["pad"]))
    side = round(size * ZOOM)
    canvas.paste(squares["pad"].resize((side, side), Image.BILINEAR),
                 ((size - side) // 2, (size - side) // 2))
    squares["zoom_out"] = canvas
    return {name: np.asarray(squares[name]) for name in FRAMINGS}


def framing_probabilities(classifier, paths, batch_size):
    """{framing: uncalibrated probabilities, each averaged with its mirror's}, the indices of
    the photos decoded and the files that could not be."""
    from cargen.images import ImageDecodeError, decode_picture
    from cargen.views import mirror_permutation
    size, mirror = classifier.image_size, np.array(mirror_permutation(classifier.classes))
    chunks = {name: [] for name in FRAMINGS}
    batch = {name: [] for name in FRAMINGS}
    kept, failed = [], []

    def predict():
        for name in FRAMINGS:
            images = np.stack(batch[name]).astype(np.float32)
            probs = np.asarray(classifier.model(images, training=False))
            flipped = np.asarray(classifier.model(images[:, :, ::-1], training=False))
            chunks[name].append((probs + flipped[:, mirror]) / 2.0)
            batch[name] = []

    progress = Progress(len(paths), label="predicting five framings")
    for index, path in enumerate(paths):
        try:
            picture = decode_picture(path, draft_size=size)
        except ImageDecodeError as error:
            failed.append(f"{path}: {error.reason}")
            continue
        for name, image in framed(picture, size).items():
            batch[name].append(image)
        kept.append(index)
        if len(batch["pad"]) == batch_size:
            predict()
            progress.update(batch_size)
    if batch["pad"]:
        progress.update(len(batch["pad"]))
        predict()
    progress.close()
    if not kept:
        raise UsageError(f"no photo could be decoded ({failed[0] if failed else 'none given'})")
    return {name: np.concatenate(chunks[name]) for name in FRAMINGS}, kept, failed


def combinations(probabilities):
    """{name: probabilities}: each framing alone, pad averaged with each other one, and all."""
    combined = dict(probabilities)
    for name in FRAMINGS[1:]:
        combined[f"pad + {name}"] = (probabilities["pad"] + probabilities[name]) / 2.0
    combined["all five"] = sum(probabilities.values()) / len(probabilities)
    return combined


def markdown_table(rows, threshold):
    """One row per framing or average of framings."""
    def percent(value):
        return "n/a" if value is None else f"{value:.1%}"

    lines = [f"| framing (each with its mirror) | accuracy | macro-F1 | `other` recall | "
             f"sorted at {threshold:.2f} | right of sorted |", "|---|---|---|---|---|---|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {percent(row['accuracy'])} | {row['macro_f1']:.3f} | "
                     f"{percent(row['other_recall'])} | {percent(row['sorted_share'])} | "
                     f"{percent(row['sorted_right'])} |")
    return "\n".join(lines)


def main(argv=None):
    """Predict every photo of --data in every framing and print the table."""
    args = parse_args(argv)
    from cargen.labelled_sets import every_labelled_photo
    from cargen.safe_files import write_json, write_text
    from classifier.calibration import apply_temperature
    from classifier.evaluation import headline_figures, report_from_probabilities
    from classifier.inference import load_classifier
    classifier = load_classifier(args.model)
    files = every_labelled_photo(args.data)
    probabilities, kept, failed = framing_probabilities(classifier, files.paths,
                                                        args.batch_size)
    for line in failed:
        print(f"skipped {line}")
    views = [files.views[i] for i in kept]
    rows = {}
    for name, raw in combinations(probabilities).items():
        calibrated = apply_temperature(raw, classifier.temperature)
        report = report_from_probabilities(calibrated, views, classifier.classes,
                                           classifier.temperature, args.threshold)
        rows[name] = headline_figures(report)
    table = markdown_table(rows, args.threshold)
    print(f"{args.model} on {len(kept):,} photos of {args.data}\n{table}")
    args.out.mkdir(parents=True, exist_ok=True)
    write_json(args.out / "framing.json", {"model": str(args.model), "data": str(args.data),
                                           "unreadable_files": failed, "figures": rows})
    write_text(args.out / "table.md", table + "\n")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    run_main(main)
