"""Measure a generator with the viewpoint classifier: view fidelity, FD-classifier, KID,
diversity; for a generator of many views each of them per view, view control and the
asked-versus-seen confusion matrix."""

import os
from pathlib import Path

# The metrics make many small numpy linear-algebra calls; multi-threaded OpenBLAS spends more
# time waiting for busy cores than computing them, so it runs single-threaded (before import).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

from cargen.aspect import FIT_MODES  # noqa: E402
from cargen.cli import UsageError, run_main  # noqa: E402
from cargen.safe_files import write_json  # noqa: E402

EXAMPLES = """examples:
  python generator/evaluate.py --model generator/models/front_left_wgan-gp_64px \\
      --classifier classifier/models/views_64px --real data/pictures/front_left
  python generator/evaluate.py --model model_saved.h5 --classifier classifier/models/views_64px \\
      --real data/pictures --view front_left --n 500 --out /tmp/old_eval.json
  python generator/evaluate.py --model generator/models/all_wgan-gp_64px_z100_b64_nc5 \\
      --classifier classifier/models/views_64px --real data/pictures --n 500
      (a generator of many views: every view against data/pictures/<view>, and
      view_confusion.png beside eval.json)

figures (written to eval.json and printed):
  view_fidelity       share of generated images the classifier puts in --view with confidence
                      >= --threshold; real_view_fidelity is the same share for the real images
  fd_classifier       Frechet distance between real and generated images in the classifier's
                      penultimate feature space (lower is better; not Inception FID)
  kid                 kernel (MMD^2, cubic polynomial) distance in the same space, ~0 when alike
  diversity           mean pairwise feature distance of generated images; far below
                      real_diversity means mode collapse
  view_control        (many views) share of a view's samples the classifier puts in the view
                      asked for; view_confusion.png shows where the others went
"""


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Evaluate a generator against real photos of one view, offline, with a "
                    "trained viewpoint classifier. Writes eval.json and prints it.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="generator run folder (uses generator_best.keras if present), a "
                             ".keras file or a Keras 2 .h5 file (required)")
    parser.add_argument("--classifier", required=True,
                        help="classifier run folder (model.keras + classes.json) (required)")
    parser.add_argument("--real", required=True,
                        help="folder of real photos of the view; a folder with one sub-folder "
                             "per view (e.g. data/pictures) is also accepted (required)")
    parser.add_argument("--view", default=None,
                        help="target view (default: the 'view' in the run's options.json); "
                             "for a generator of many views one of them, or all (the "
                             "default), each against REAL/<view> (or its mirror's photos, "
                             "flipped)")
    parser.add_argument("--n", type=int, default=1000,
                        help="number of generated images (default: 1000)")
    parser.add_argument("--n-real", type=int, default=0,
                        help="use a random sample of this many real photos (default: 0, all)")
    parser.add_argument("--fit", choices=FIT_MODES, default=None,
                        help="how the generator's training photos were made square; the real "
                             "photos are prepared the same way at the generator's size before "
                             "the classifier sees them (default: the run's options.json, else "
                             "the classifier's fit)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence a view-fidelity hit needs (default: 0.70)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the latents and samples (default: 0)")
    parser.add_argument("--batch-size", type=int, default=128,
                        help="images per classifier call (default: 128)")
    parser.add_argument("--last", action="store_true",
                        help="in a run folder, evaluate generator.keras even when "
                             "generator_best.keras exists (default: off)")
    parser.add_argument("--out", default=None,
                        help="where to write the JSON (default: eval.json in the run folder, "
                             "or next to a model file)")
    args = parser.parse_args(argv)
    if args.n < 2 or args.n_real < 0 or args.batch_size < 1:
        raise UsageError("--n must be >= 2, --n-real >= 0 and --batch-size >= 1")
    if not 0 < args.threshold <= 1:
        raise UsageError(f"--threshold must be in (0, 1], not {args.threshold}")
    return args


def real_image_paths(folder, view, n_real=0, seed=0):
    """Real photos of `view`: the images in `folder`, or in `folder/view` if it has none."""
    from cargen.images import list_images
    folder = Path(folder)
    paths = list_images(folder)
    if not paths and (folder / view).is_dir():
        paths = list_images(folder / view)
    if not paths:
        raise UsageError(f"{folder}: no images (nor in {folder / view})")
    if n_real and n_real < len(paths):
        import numpy as np
        chosen = np.random.default_rng(seed).choice(len(paths), n_real, replace=False)
        paths = [paths[i] for i in sorted(chosen)]
    return paths


def summary(result):
    """The figures as a few readable lines."""
    return "\n".join([
        f"view fidelity ({result['view']}, confidence >= {result['confidence_threshold']:.2f}):"
        f" generated {result['view_fidelity']:.1%}, real {result['real_view_fidelity']:.1%}",
        f"FD-classifier {result['fd_classifier']:.4g}   KID {result['kid']:.4g}",
        f"diversity: generated {result['diversity']:.4g}, real {result['real_diversity']:.4g}"
        f" (ratio {result['diversity'] / max(result['real_diversity'], 1e-12):.2f})",
        f"{result['n_generated']} generated vs {result['n_real']} real images"
        + (f" ({result['n_real_unreadable']} unreadable skipped)"
           if result["n_real_unreadable"] else "")
        + f", {result['seconds']:.1f} s",
    ])


def view_table(result):
    """A conditional generator's figures: one line per view."""
    lines = [f"{'view':<12} {'fidelity':>8} {'real':>6} {'control':>7} {'FD-cls':>8} "
             f"{'KID':>8} {'divers.':>7} {'real':>6}  real photos"]
    for view, f in result["views"].items():
        def number(key, form):
            return format(f[key], form) if f.get(key) is not None else "-"
        lines.append(f"{view:<12} {number('view_fidelity', '8.1%')} "
                     f"{number('real_view_fidelity', '6.1%')} {number('view_control', '7.1%')} "
                     f"{number('fd_classifier', '8.4g')} {number('kid', '8.3g')} "
                     f"{number('diversity', '7.3g')} {number('real_diversity', '6.3g')}  "
                     f"{f['real_photos']}")
    lines.append(f"view control over {len(result['views'])} views: {result['view_control']:.1%}")
    return "\n".join(lines)


def main(argv=None):
    """Evaluate, write eval.json (and view_confusion.png), print the figures."""
    args = parse_args(argv)
    from classifier.inference import load_classifier
    from generator.quality import evaluate_generator
    from generator.run_folder import VIEW_CONFUSION_FILE, RunFolder
    from generator.sampling import load_generator, views_to_draw
    generator = load_generator(args.model, prefer_best=not args.last)
    view = args.view or generator.options.get("view")
    if not view:
        raise UsageError(f"{args.model}: no view in options.json; pass --view")
    if generator.views is None and view != generator.options.get("view", view):
        print(f"warning: {generator.path} was trained on {generator.options['view']}; "
              f"evaluating it as {view}", file=sys.stderr)
    classifier = load_classifier(args.classifier)
    if generator.views is None:
        real = real_image_paths(args.real, view, args.n_real, args.seed)
        result = evaluate_generator(generator, classifier, real, view, args.n, seed=args.seed,
                                    batch_size=args.batch_size, threshold=args.threshold,
                                    fit=args.fit)
    else:
        from generator.view_control import evaluate_views, real_view_statistics
        views = [name for name, _ in views_to_draw(generator, args.view)]
        reals = real_view_statistics(classifier, Path(args.real), views, generator.image_size,
                                     args.fit or generator.options.get("fit") or classifier.fit,
                                     generator.channels, args.batch_size, args.n_real,
                                     args.seed)
        result = evaluate_views(generator, classifier, reals, args.n, args.seed,
                                args.batch_size, args.threshold)
    result = {"model": str(generator.path), "classifier": str(args.classifier),
              "real": str(args.real), **result}
    model_path = Path(args.model)
    out = Path(args.out) if args.out else (
        model_path if model_path.is_dir() else model_path.parent)
    if out.is_dir():
        out = RunFolder(out).eval_report
    write_json(out, result)
    if generator.views is None:
        print(summary(result))
    else:
        from generator.view_control import confusion_picture
        print(view_table(result))
        picture = confusion_picture(result["confusion"], out.parent / VIEW_CONFUSION_FILE,
                                    f"{generator.path}: views asked for and seen")
        print(f"wrote {picture}")
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    run_main(main)
