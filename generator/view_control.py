"""Evaluating a generator of many views view by view (see `generator.quality` for the figures).

For every view asked for: view fidelity against real view fidelity, FD-classifier, KID and
diversity against the real photos of the view (its own folder of the real root, else its mirror
view's photos flipped; a view with neither gets the generated-only figures), and view control,
the share of its samples the classifier puts in the view that was asked for. The
asked-versus-seen confusion matrix (each row: the shares of one asked view's samples in every
class of the classifier) is drawn by `confusion_picture`.
"""

import numpy as np

from cargen.images import list_images
from cargen.safe_files import replace_atomically
from cargen.views import mirror_view
from generator.quality import CONFIDENCE_THRESHOLD, evaluate_generator, real_statistics
from generator.sampling import as_generator


def real_photos(real_root, view, n_real=0, seed=0):
    """(paths, flipped) of the real photos that show `view`: real_root/<view>, else the mirror
    view's folder to be shown flipped; ([], False) when neither has photos. At most `n_real`
    (0: all), a seeded random sample."""
    paths, flipped = list_images(real_root / view) if (real_root / view).is_dir() else [], False
    mirror = real_root / mirror_view(view)
    if not paths and mirror.is_dir():
        paths, flipped = list_images(mirror), True
    if n_real and n_real < len(paths):
        chosen = np.random.default_rng(seed).choice(len(paths), n_real, replace=False)
        paths = [paths[i] for i in sorted(chosen)]
    return paths, flipped


def real_view_statistics(classifier, real_root, views, image_size, fit, channels=3,
                         batch_size=128, n_real=0, seed=0):
    """{view: (`quality.ImageStatistics` of its real photos or None when it has fewer than 2,
    what they are)} for every view of `views` (see `real_photos`): computed once, reused by
    every `evaluate_views` call against the same photos."""
    reals = {}
    for view in views:
        paths, flipped = real_photos(real_root, view, n_real, seed)
        what = f"{len(paths)} flipped {mirror_view(view)}" if flipped else f"{len(paths)} {view}"
        reals[view] = (real_statistics(classifier, paths, view, batch_size, image_size, fit,
                                       channels, flip=flipped) if len(paths) >= 2 else None, what)
    return reals


def evaluate_views(generator, classifier, reals, n, seed=0, batch_size=128,
                   threshold=CONFIDENCE_THRESHOLD):
    """The figures of every view of `reals` (from `real_view_statistics`) for a conditional
    generator: {"views": {view: figures}, "view_control": the mean over views, "confusion":
    {"asked", "seen", "shares"}}."""
    from generator.quality import generated_figures, generated_statistics
    generator = as_generator(generator)
    per_view = {}
    for view, (real, what) in reals.items():
        if real is not None:
            figures = evaluate_generator(generator, classifier, real, view, n, seed, batch_size,
                                         threshold)
        else:
            generated = generated_statistics(generator, classifier, view, n, seed, batch_size,
                                             fit=generator.options.get("fit", "pad"))
            figures = generated_figures(generated, classifier.classes, threshold)
        per_view[view] = {**figures, "real_photos": what}
    return {"views": per_view,
            "view_control": float(np.mean([f["view_control"] for f in per_view.values()])),
            "confusion": {"asked": list(reals), "seen": list(classifier.classes),
                          "shares": np.asarray([f["predicted_shares"] for f in per_view.values()])
                          .round(4).tolist()}}


def confusion_picture(confusion, path, title=""):
    """Draw the asked-versus-seen matrix (`evaluate_views`' "confusion") as a PNG at `path`."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    shares = np.asarray(confusion["shares"])
    asked, seen = confusion["asked"], confusion["seen"]
    figure = Figure(figsize=(1.0 + 0.8 * len(seen), 1.2 + 0.55 * len(asked)), dpi=100)
    axes = figure.subplots()
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
    axes.set_xticks(range(len(seen)), seen, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(asked)), asked, fontsize=8)
    axes.set_xlabel("view the classifier sees")
    axes.set_ylabel("view asked for")
    for row, column in np.ndindex(shares.shape):
        axes.text(column, row, f"{shares[row, column]:.0%}", ha="center", va="center",
                  fontsize=7, color="white" if shares[row, column] > 0.5 else "black")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    replace_atomically(path, lambda p: figure.savefig(p, format="png"))
    return path
