"""Measuring a trained classifier on labelled photos, through the same loading and decoding
path the sorter uses (`classifier.inference`)."""

import numpy as np

from cargen.cli import Progress
from classifier.calibration import apply_temperature
from classifier.report import quality_report


def predict_files(classifier, paths, batch_size=64, flip_average=None, label="predicting"):
    """Calibrated probabilities for `paths` and the list of files that could not be decoded.

    Returns `(probabilities, kept, failed)`: `probabilities[k]` belongs to `paths[kept[k]]`.
    """
    chunks, kept, failed = [], [], []
    progress = Progress(len(paths), label=label, always=False)
    for images, indices, ok in classifier.dataset(paths, batch_size):
        ok = ok.numpy()
        indices = indices.numpy()
        failed += [str(paths[i]) for i in indices[~ok]]
        if ok.any():
            chunks.append(classifier.predict(images.numpy()[ok], flip_average=flip_average))
            kept += indices[ok].tolist()
        progress.update(len(indices))
    progress.close()
    n_classes = len(classifier.classes)
    probabilities = np.concatenate(chunks) if chunks else np.zeros((0, n_classes), np.float32)
    return probabilities, kept, failed


def labelled_probabilities(classifier, files, batch_size=64, flip_average=None):
    """Predictions on `LabelledFiles`: (probabilities, true view names, unreadable files)."""
    probabilities, kept, failed = predict_files(classifier, files.paths, batch_size, flip_average)
    return probabilities, [files.views[i] for i in kept], failed


def report_from_probabilities(probabilities, true_views, classes, temperature=1.0,
                              threshold=0.70):
    """Quality report for calibrated `probabilities` over `classes` of photos of `true_views`.

    Views of the photos that the model has no class for are added as extra rows: every such
    photo counts as an error. The uncalibrated ECE and threshold figures are added (the
    temperature undone).
    """
    classes = list(classes)
    extra = [view for view in dict.fromkeys(true_views) if view not in classes]
    report_classes = classes + extra
    padded = np.zeros((len(true_views), len(report_classes)), np.float64)
    padded[:, :len(classes)] = probabilities
    true = np.array([report_classes.index(view) for view in true_views], dtype=np.int64)
    report = quality_report(padded, true, report_classes, threshold)
    raw = np.zeros_like(padded)
    raw[:, :len(classes)] = apply_temperature(probabilities, 1.0 / temperature)
    uncalibrated = quality_report(raw, true, report_classes, threshold)
    report["temperature"] = float(temperature)
    report["uncalibrated"] = {key: uncalibrated[key] for key in
                              ("accuracy", "ece", "sorted_share", "sorted_right")}
    return report


def evaluate_files(classifier, files, batch_size=64, flip_average=None, threshold=0.70):
    """Quality report of `classifier` on `LabelledFiles` (calibrated, plus uncalibrated ECE)."""
    probabilities, true_views, failed = labelled_probabilities(classifier, files, batch_size,
                                                               flip_average)
    report = report_from_probabilities(probabilities, true_views, classifier.classes,
                                       classifier.temperature, threshold)
    report["flip_average"] = classifier.flip_average if flip_average is None else flip_average
    report["flip_average_below"] = classifier.flip_average_below
    report["unreadable_files"] = failed
    return report


def headline_figures(report):
    """The figures that compare domains: images, accuracy, macro-F1, `other` recall (None
    without `other` photos), share sorted at the threshold and the precision of the sorted."""
    other = report["per_class"].get("other", {})
    return {"images": report["images"], "accuracy": report["accuracy"],
            "macro_f1": report["macro_f1"],
            "other_recall": other.get("recall") if other.get("support") else None,
            "sorted_share": report["sorted_share"], "sorted_right": report["sorted_right"]}


def figures_by_source(probabilities, files, sources, classes, temperature=1.0, threshold=0.70):
    """{source name: `headline_figures`} for calibrated `probabilities` of `LabelledFiles`
    `files`, each source being the files under its folder in `sources` ({name: folder})."""
    figures = {}
    for name, folder in sources.items():
        prefix = str(folder).rstrip("/\\") + "/"
        rows = [i for i, path in enumerate(files.paths) if str(path).startswith(prefix)]
        if rows:
            report = report_from_probabilities(probabilities[rows], [files.views[i] for i in rows],
                                               classes, temperature, threshold)
            figures[name] = headline_figures(report)
    return figures
