"""One conditional generator of every view against eight one-view generators, in the same
total training time (issue 21).

Trains, with the real training code and the demo's recipe (WGAN-GP, one critic update, lr 2e-4,
width 32, --ema 0.99, --mixed-precision; each setting an option here):
  1. the conditional run (train_wgan.py --views all) for --minutes of training;
  2. one one-view run per view folder of --data-root with photos, each for --minutes / their
     number (eight on stanford-views: together they train as long as the conditional one);
  3. with --without VIEW, a second conditional run whose VIEW photos are left out: VIEW is
     learned from its mirror's photos only (what mirroring buys).
Then every generator is judged with the classifier against the photos of its view in --real
(the same real statistics for all) and the per-view table is printed: view fidelity against
the real photos', FD-classifier, and diversity against the real photos'; lower FD is better,
fidelity and diversity close to the real ones are. Everything goes to --out: the run folders and
comparison.json, and side_by_side.png: the conditional generator's grid (one row per view) beside
the one-view generators'. Runs already in --out are resumed (a stopped comparison continues).

  python benchmarks/conditional_vs_single.py --minutes 60 --without right   # the issue's run
  python benchmarks/conditional_vs_single.py --minutes 0.2 --image-size 16 --width 8 \\
      --data-root /tmp/views --classifier /tmp/classifier --eval-samples 16  # a smoke run
"""

import argparse
from pathlib import Path

from cargen.cli import UsageError, run_main
from cargen.images import list_images
from cargen.safe_files import write_json
from cargen.views import CAR_VIEWS
from generator.conditional_input import CONDITIONINGS


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", default="../shared/data/stanford-views/train",
                        help="folder with one sub-folder of photos per view "
                             "(default: %(default)s)")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="training minutes of the conditional run; the one-view runs share "
                             "as many (default: %(default)s)")
    parser.add_argument("--classifier", default="classifier/pretrained",
                        help="classifier run folder that judges the generators "
                             "(default: %(default)s)")
    parser.add_argument("--real", help="folder with one sub-folder of real photos per view to "
                        "judge the generators against (default: DATA_ROOT, the photos they "
                        "learned from)")
    parser.add_argument("--without", metavar="VIEW",
                        help="also train a conditional run without VIEW's own photos "
                             "(e.g. right; default: no such run)")
    parser.add_argument("--out", default="generator/models/conditional_vs_single",
                        help="folder of the run folders and comparison.json "
                             "(default: %(default)s)")
    parser.add_argument("--conditioning", choices=CONDITIONINGS, default="input",
                        help="how the conditional generators are told the view (train_wgan.py "
                             "--conditioning; default: %(default)s)")
    parser.add_argument("--image-size", type=int, default=64,
                        help="pixels (default: %(default)s; 128 for the 128 px run)")
    parser.add_argument("--width", type=int, default=32,
                        help="network width (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=24,
                        help="real images per critic update (default: %(default)s)")
    parser.add_argument("--loss", choices=("wgan", "wgan-gp"), default="wgan-gp",
                        help="wgan = clipping, wgan-gp = gradient penalty (default: %(default)s)")
    parser.add_argument("--n-critic", type=int, default=1,
                        help="critic updates per generator update (default: %(default)s)")
    parser.add_argument("--learning-rate", type=float, default=2e-4,
                        help="learning rate of both networks (default: %(default)s)")
    parser.add_argument("--ema", type=float, default=0.99,
                        help="moving-average decay of the generator's weights "
                             "(default: %(default)s)")
    parser.add_argument("--steps-per-epoch", type=int, default=50,
                        help="generator iterations per epoch: the time limit is checked after "
                             "every epoch (default: %(default)s)")
    parser.add_argument("--eval-samples", type=int, default=500,
                        help="generated images per view in the evaluation (default: %(default)s)")
    parser.add_argument("--no-mixed-precision", dest="mixed_precision", action="store_false",
                        help="train in float32 (default: --mixed-precision, which the training "
                             "ignores on CPUs without native bfloat16)")
    return parser.parse_args(argv)


def training_argv(args, data, out, minutes):
    """train_wgan.py's command line for one run (`data`: its data options)."""
    return [*data, "--out", str(out), "--minutes", str(minutes), "--epochs", "100000",
            "--image-size", str(args.image_size), "--width", str(args.width),
            "--batch-size", str(args.batch_size), "--loss", args.loss,
            "--n-critic", str(args.n_critic), "--learning-rate", str(args.learning_rate),
            "--ema", str(args.ema), "--steps-per-epoch", str(args.steps_per_epoch),
            "--no-progress"] + (["--mixed-precision"] if args.mixed_precision else []) + (
            ["--resume"] if (out / "options.json").exists() else [])


def train_run(argv):
    """Train (or resume) one run with train_wgan.py's options; returns its folder."""
    from generator.train_wgan import parse_args as training_args
    from generator.train_wgan import resolve_options
    from generator.training import train
    return train(resolve_options(training_args(argv)))


def judge(args, generators, views):
    """{run name: {view: figures}} for the loaded generators, against the same real
    statistics."""
    from classifier.inference import load_classifier
    from generator.quality import evaluate_generator
    from generator.view_control import evaluate_views, real_view_statistics
    classifier = load_classifier(args.classifier)
    first = next(iter(generators.values()))
    reals = real_view_statistics(classifier, Path(args.real or args.data_root), views,
                                 first.image_size,
                                 first.options.get("fit") or classifier.fit, first.channels)
    figures = {}
    for name, generator in generators.items():
        if generator.views is not None:
            figures[name] = evaluate_views(generator, classifier, reals, args.eval_samples)["views"]
        else:
            view = generator.options["view"]
            figures[name] = {view: evaluate_generator(generator, classifier, reals[view][0], view,
                                                      args.eval_samples)}
    return figures


def side_by_side(generators, views, path, columns=6, seed=0):
    """Write the two grids side by side: one row per view from the conditional generator (the
    same latents in every row) and from the view's one-view generator (the same latents);
    `generators` are the loaded runs by name."""
    import numpy as np
    from PIL import Image, ImageDraw

    from cargen.aspect import restore_aspect
    from cargen.contact_sheet import label_font
    from generator.pictures import grid_scale, image_grid, label_rows, save_png, to_rgb
    from generator.sampling import generate_images, sample_latents
    conditional = generators["conditional"]
    latents = sample_latents(columns, conditional.latent_dim, seed)
    halves = {"one conditional generator": [], "eight one-view generators": []}
    for view in views:
        halves["one conditional generator"].append(
            generate_images(conditional, latents, view_ids=conditional.view_id(view)))
        single = generators.get(f"single_{view}")
        halves["eight one-view generators"].append(
            generate_images(single, latents) if single
            else np.zeros_like(halves["one conditional generator"][-1]))
    pictures = []
    for title, rows in halves.items():
        images = to_rgb(restore_aspect(np.concatenate(rows), conditional.aspect))
        grid = image_grid(images, columns, scale=grid_scale(conditional.image_size))
        grid = label_rows(grid, views)
        canvas = Image.new("RGB", (grid.shape[1], grid.shape[0] + 28), (255, 255, 255))
        canvas.paste(Image.fromarray(grid), (0, 28))
        ImageDraw.Draw(canvas).text((grid.shape[1] // 2, 14), title, fill=(20, 20, 20),
                                    font=label_font(16), anchor="mm")
        pictures.append(np.asarray(canvas))
    gap = np.full((pictures[0].shape[0], 16, 3), 255, np.uint8)
    save_png(np.concatenate([pictures[0], gap, pictures[1]], axis=1), path)
    return path


def table(figures, views):
    """The per-view comparison as text lines."""
    runs = ["conditional", "single"] + [name for name in figures if name.startswith("without")]
    header = f"{'view':<12} {'real fid.':>9}" + "".join(
        f" | {run[:12]:>12} fid.   FD-cls  divers." for run in runs) + "  real divers."
    lines = [header]
    for view in views:
        row = [figures[run].get(view) if run != "single" else figures.get(f"single_{view}", {})
               .get(view) for run in runs]
        known = next((f for f in row if f and "real_view_fidelity" in f), None)
        if known is None:
            continue
        line = f"{view:<12} {known['real_view_fidelity']:>9.1%}"
        for f in row:
            line += (f" | {f['view_fidelity']:>17.1%} {f['fd_classifier']:>8.4g} "
                     f"{f['diversity']:>8.3g}" if f and "fd_classifier" in f else
                     f" | {'-':>17} {'-':>8} {'-':>8}")
        lines.append(line + f"  {known['real_diversity']:>8.3g}")
    return lines


def main(argv=None):
    """Train the runs, judge them, print the table and write comparison.json."""
    args = parse_args(argv)
    root, out = Path(args.data_root), Path(args.out)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (--data-root)")
    if not (Path(args.classifier) / "model.keras").exists():
        raise UsageError(f"{args.classifier}: no model.keras (--classifier)")
    views = [v for v in CAR_VIEWS if (root / v).is_dir() and list_images(root / v)]
    if not views:
        raise UsageError(f"{root}: no view folder has photos")
    out.mkdir(parents=True, exist_ok=True)
    conditional = ["--data-root", str(root), "--views", "all", "--conditioning",
                   args.conditioning]
    runs = {"conditional": train_run(training_argv(args, conditional, out / "conditional",
                                                   args.minutes))}
    for view in views:
        runs[f"single_{view}"] = train_run(training_argv(
            args, ["--data", str(root / view), "--view", view], out / f"single_{view}",
            args.minutes / len(views)))
    if args.without:
        runs[f"without_{args.without}"] = train_run(training_argv(
            args, [*conditional, "--without", args.without],
            out / f"without_{args.without}", args.minutes))
    from generator.sampling import load_generator
    generators = {name: load_generator(folder.path, prefer_best=False)
                  for name, folder in runs.items()}
    figures = judge(args, generators, views)
    print("\n".join(table(figures, views)))
    report = out / "comparison.json"
    write_json(report, {"options": vars(args), "views": views, "figures": figures})
    grids = side_by_side(generators, views, out / "side_by_side.png")
    print(f"wrote {report} and {grids}")


if __name__ == "__main__":
    run_main(main)
