"""Classifier quality figures: accuracy, macro-F1, per-view precision/recall, confusion matrix,
expected calibration error, how many photos a confidence threshold sorts and how many of those
are right; and the `confusion.png` / `curves.png` plots."""

import csv
from pathlib import Path

import numpy as np


def confusion_matrix(true, predicted, n_classes):
    """Counts[i, j] = photos of class i predicted as class j."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true), np.asarray(predicted)), 1)
    return matrix


def expected_calibration_error(probabilities, true, bins=15):
    """ECE: the confidence-weighted gap between confidence and accuracy, over equal-width bins."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == np.asarray(true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    error = 0.0
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            error += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(error)


def threshold_figures(probabilities, true, threshold):
    """(share of photos sorted at `threshold`, share of the sorted ones that are right)."""
    confidence = probabilities.max(axis=1)
    sorted_mask = confidence >= threshold
    if not sorted_mask.any():
        return 0.0, 0.0
    right = probabilities.argmax(axis=1)[sorted_mask] == np.asarray(true)[sorted_mask]
    return float(sorted_mask.mean()), float(right.mean())


def quality_report(probabilities, true, classes, threshold=0.70):
    """Every figure as a JSON-able dict for predictions `probabilities` of labels `true`.

    Macro-F1 averages over the classes that occur in `true` (a class the set has no photos of
    has no recall); predictions into any other class still count as errors.
    """
    true = np.asarray(true)
    predicted = probabilities.argmax(axis=1)
    matrix = confusion_matrix(true, predicted, len(classes))
    per_class = {}
    f1_scores = []
    for i, name in enumerate(classes):
        support = int(matrix[i].sum())
        predicted_count = int(matrix[:, i].sum())
        precision = matrix[i, i] / predicted_count if predicted_count else 0.0
        recall = matrix[i, i] / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": round(float(precision), 4),
                           "recall": round(float(recall), 4),
                           "f1": round(float(f1), 4), "support": support}
        if support:
            f1_scores.append(f1)
    sorted_share, sorted_right = threshold_figures(probabilities, true, threshold)
    return {
        "images": int(len(true)),
        "accuracy": round(float((predicted == true).mean()) if len(true) else 0.0, 4),
        "macro_f1": round(float(np.mean(f1_scores)) if f1_scores else 0.0, 4),
        "ece": round(expected_calibration_error(probabilities, true), 4),
        "threshold": threshold,
        "sorted_share": round(sorted_share, 4),
        "sorted_right": round(sorted_right, 4),
        "per_class": per_class,
        "classes": list(classes),
        "confusion_matrix": matrix.tolist(),
    }


def format_report(report):
    """The report as readable lines of text."""
    lines = [
        f"images {report['images']}  accuracy {report['accuracy']:.2%}  "
        f"macro-F1 {report['macro_f1']:.3f}  ECE {report['ece']:.3f}",
        f"at confidence >= {report['threshold']:.2f}: {report['sorted_share']:.1%} sorted, "
        f"{report['sorted_right']:.1%} of those right",
        f"{'view':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'photos':>7}",
    ]
    for name, row in report["per_class"].items():
        lines.append(f"{name:<12} {row['precision']:>9.3f} {row['recall']:>7.3f} "
                     f"{row['f1']:>6.3f} {row['support']:>7}")
    classes = report["classes"]
    width = max(len(c) for c in classes)
    lines.append("confusion (rows: true view, columns: predicted, in the order above)")
    for name, row in zip(classes, report["confusion_matrix"]):
        lines.append(f"{name:<{width}} " + " ".join(f"{n:>5}" for n in row))
    return "\n".join(lines)


def plot_confusion(report, path, title="validation"):
    """Save the confusion matrix (row-normalised colours, counts written in) as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    matrix = np.array(report["confusion_matrix"], dtype=np.float64)
    classes = report["classes"]
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = 1.0 + 0.7 * len(classes)
    figure, axes = plt.subplots(figsize=(size + 1.5, size))
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(classes)):
        for j in range(len(classes)):
            if matrix[i, j]:
                axes.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                          color="white" if shares[i, j] > 0.5 else "black")
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted view")
    axes.set_ylabel("true view")
    axes.set_title(f"{title}: accuracy {report['accuracy']:.1%}, "
                   f"macro-F1 {report['macro_f1']:.3f}")
    figure.colorbar(image, ax=axes, fraction=0.046, label="share of the true view")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def read_history(path):
    """history.csv as {column: [floats]}."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    return {key: [float(row[key]) for row in rows if row.get(key) not in (None, "")]
            for key in rows[0]}


def plot_curves(history_csv, path):
    """Save loss and accuracy per epoch (training and validation) as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    history = read_history(history_csv)
    epochs = [int(e) + 1 for e in history.get("epoch", [])]
    figure, (loss_axes, accuracy_axes) = plt.subplots(1, 2, figsize=(10, 4))
    for axes, key, label in ((loss_axes, "loss", "loss"), (accuracy_axes, "accuracy", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + key)
            if values:
                axes.plot(epochs[:len(values)], values, style,
                          label=("validation " if prefix else "training ") + label)
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        axes.grid(alpha=0.3)
        axes.legend()
    accuracy_axes.set_ylim(0, 1)
    figure.suptitle(Path(history_csv).parent.name)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
