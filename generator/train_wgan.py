"""Train a Wasserstein GAN on one folder of car pictures of one view, or one generator of every
view on all view folders at once (--views).

Examples:
  python generator/train_wgan.py --data data/pictures/front_left
  python generator/train_wgan.py --data-root data/pictures --views all --loss wgan-gp
  python generator/train_wgan.py --data-root data/pictures --view front_left --epochs 100
  python generator/train_wgan.py --data data/pictures/front_left --resume
  python generator/train_wgan.py --data data/pictures/front_left --loss wgan-gp
  python generator/train_wgan.py --data data/pictures/front_left --image-size 32 \\
      --sweep latent_dim=10,20 batch=8,16 n_critic=2,5
  python generator/train_wgan.py --data data/pictures/front_left --strategy mirrored \\
      --mixed-precision --jit                  # several GPUs

Defaults are those of the WGAN paper (Arjovsky, Chintala and Bottou 2017, Algorithm 1): the
critic's weights are clipped to [-0.01, 0.01] after every critic update (this keeps it
K-Lipschitz, so its score difference estimates the Wasserstein distance), the critic is updated
n_critic=5 times per generator update (the estimate is only useful when the critic is near
optimal), RMSprop with lr 5e-5 for both networks (momentum-based optimisers such as Adam made
clipped-WGAN training unstable in the paper), batch 64 and a 100-dimensional normal latent.
The networks are DCGAN's (batch norm in both). --loss wgan-gp replaces clipping with the
gradient penalty of Gulrajani et al. (2017) and their defaults: Adam lr 1e-4, betas 0.5/0.9,
penalty weight 10 on interpolates x + alpha (G(z) - x) with alpha ~ U[0, 1], and no batch norm
in the critic (layer norm instead, as that paper recommends).

An epoch is ceil(images / batch) generator iterations (each with n_critic critic updates), the
seed's definition; --steps-per-epoch overrides it. After every epoch the run folder
generator/models/<view>_<loss>_<size>px_z<latent>_b<batch>_nc<n_critic>/ gets a 5x5 grid from
fixed latents (images/generated_plot_EEEE.png), metrics.csv rows, a checkpoint and
generator.keras; progress.gif animates the grids and loss_plot.png draws the losses (both
redrawn about ten times per run and at the end). With --classifier, eval.csv gets the
evaluation figures and generator_best.keras the generator with the lowest FD-classifier.

--views trains one generator G(z, view) and one projection critic (Miyato and Koyama 2018) on
the folders DATA_ROOT/<view> of the views named: every batch draws each view equally often,
and a view's mirror's photos, flipped, count as its own (a flipped left photo is a right one),
so a view without photos is learned from its mirror's. The run folder is
MODELS_DIR/all_<loss>_... (or <view>+<view>_...); its grids have one row per view, from the same
latents in every row.
"""

import argparse
import os
import sys
from pathlib import Path

# Evaluation's FD square roots are small matrices: threaded BLAS only fights TensorFlow for cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from cargen.aspect import FIT_MODES  # noqa: E402
from cargen.cli import UsageError, add_old_spelling, run_main  # noqa: E402
from cargen.views import VIEWS, check_view  # noqa: E402
from generator.conditional_input import CONDITIONINGS  # noqa: E402
from generator.input import check_image_size, find_training_images  # noqa: E402

SWEEPABLE = {"latent_dim": int, "batch": int, "n_critic": int, "lr": float, "image_size": int,
             "width": int, "clip_value": float, "gp_weight": float, "loss": str,
             "channels": int, "fit": str, "seed": int, "epochs": int}


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        prog="generator/train_wgan.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    data = parser.add_argument_group("data")
    data.add_argument("--data", help="folder of training pictures of one view "
                      "(default: DATA_ROOT/VIEW)")
    data.add_argument("--data-root", default="data/pictures",
                      help="folder holding one sub-folder per view (default: %(default)s)")
    data.add_argument("--view", help="view name, recorded in options.json and the run name "
                      f"({', '.join(VIEWS)}; default: the --data folder's name)")
    data.add_argument("--views", help="train one conditional generator on the folders "
                      "DATA_ROOT/<view> of these views: all (the eight car views) or a comma-"
                      "separated list (default: off, one view)")
    data.add_argument("--without", default="", metavar="VIEWS",
                      help="with --views: leave these views' own photos out, so they are "
                      "learned from their mirror's only (comma-separated; default: none)")
    data.add_argument("--fit", choices=FIT_MODES, default="stretch",
                      help="how pictures are made square: stretch squeezes the whole picture "
                      "into the square (every pixel is car or scene; samples are shown back at "
                      "the pictures' median width/height), pad keeps the aspect with bands "
                      "above and below, crop takes the centre (default: stretch)")
    data.add_argument("--image-size", type=int, default=64,
                      help="side of the square images in pixels, a power of two >= 16 "
                      "(default: %(default)s; 32 for quick tests, 128 supported)")
    data.add_argument("--channels", type=int, choices=(1, 3), default=3,
                      help="3 = RGB, 1 = grayscale like the seed (default: %(default)s)")
    data.add_argument("--cache", metavar="FILE",
                      help="cache decoded uint8 images in this file (prefix) instead of memory, "
                      "for folders bigger than RAM; reused by later runs on the same images")
    model = parser.add_argument_group("model and training")
    model.add_argument("--loss", choices=("wgan", "wgan-gp"), default="wgan",
                       help="wgan = weight clipping (the paper), wgan-gp = gradient penalty "
                       "(default: %(default)s)")
    model.add_argument("--conditioning", choices=CONDITIONINGS, default="input",
                       help="with --views, how the generator is told the view: input = a "
                       "learned view embedding beside the latents; batchnorm = that and a "
                       "learned batch-norm scale and offset per view in every block "
                       "(default: %(default)s)")
    model.add_argument("--latent-dim", type=int, default=100,
                       help="size of the normal latent vector (default: %(default)s)")
    model.add_argument("--width", type=int, default=64,
                       help="filters of the networks' largest-resolution block; doubled at each "
                       "halving, up to 512 (default: %(default)s, DCGAN's; 32 trains about 4x "
                       "faster on a CPU)")
    model.add_argument("--batch-size", dest="batch", type=int, default=64,
                       help="real images per critic update (default: %(default)s)")
    model.add_argument("--n-critic", type=int, default=5,
                       help="critic updates per generator update (default: %(default)s)")
    model.add_argument("--learning-rate", dest="lr", type=float,
                       help="learning rate of both networks (default: 5e-5 RMSprop for wgan, "
                       "1e-4 Adam for wgan-gp)")
    model.add_argument("--clip-value", type=float, default=0.01,
                       help="wgan: critic weights are clipped to +-this (default: %(default)s)")
    model.add_argument("--gp-weight", type=float, default=10.0,
                       help="wgan-gp: weight of the gradient penalty (default: %(default)s)")
    model.add_argument("--beta-1", type=float, default=0.5,
                       help="wgan-gp: Adam beta_1 (default: %(default)s)")
    model.add_argument("--beta-2", type=float, default=0.9,
                       help="wgan-gp: Adam beta_2 (default: %(default)s)")
    model.add_argument("--ema", type=float, default=0.0,
                       help="keep an exponential moving average of the generator's weights "
                       "with this decay (e.g. 0.999) and use it for the grids, evaluation and "
                       "generator.keras: smoother, steadier images at no training cost; 0 = "
                       "off, the paper's plain generator (default: %(default)s)")
    model.add_argument("--epochs", type=int, default=50,
                       help="epochs to train in total (default: %(default)s)")
    model.add_argument("--minutes", type=float, default=0.0,
                       help="stop after the epoch in which the run's training time (resumed "
                       "runs: in total) passes this many minutes; 0 = no limit, train --epochs "
                       "(default: %(default)s)")
    model.add_argument("--steps-per-epoch", type=int, default=0,
                       help="generator iterations per epoch (default: 0 = ceil(images / batch))")
    model.add_argument("--seed", type=int, default=0,
                       help="random seed of weights, batches and the fixed grid latents "
                       "(default: %(default)s)")
    run = parser.add_argument_group("run folder")
    run.add_argument("--models-dir", default="generator/models",
                     help="where run folders are made (default: %(default)s)")
    run.add_argument("--out", help="run folder to use instead of MODELS_DIR/<view>_<params>")
    run.add_argument("--resume", action="store_true",
                     help="continue the run in the run folder from its last checkpoint: give the "
                     "same options (--epochs may grow; --jit, --mixed-precision and --strategy "
                     "may change)")
    run.add_argument("--grid", type=int, default=5,
                     help="the sample grid is GRID x GRID images (default: %(default)s)")
    run.add_argument("--sweep", nargs="+", metavar="KEY=V1,V2",
                     help="grid search: train every combination, one run folder each; KEY is "
                     f"one of {', '.join(SWEEPABLE)}")
    run.add_argument("--no-progress", dest="progress", action="store_false",
                     help="no progress bars (the per-epoch summary lines stay)")
    evaluation = parser.add_argument_group("evaluation")
    evaluation.add_argument("--classifier", metavar="RUN",
                            help="classifier run folder: evaluate the generator with it every "
                            "--eval-every epochs into eval.csv, keep generator_best.keras")
    evaluation.add_argument("--eval-every", type=int, default=5,
                            help="epochs between evaluations (default: %(default)s)")
    evaluation.add_argument("--eval-samples", type=int, default=500,
                            help="generated images per evaluation (default: %(default)s)")
    speed = parser.add_argument_group("speed")
    speed.add_argument("--jit", action="store_true",
                       help="compile the critic and generator updates with XLA")
    speed.add_argument("--mixed-precision", action="store_true",
                       help="float16 compute on a GPU, bfloat16 on a CPU that has it natively "
                       "(AVX512_BF16 or AMX; else ignored), float32 weights")
    speed.add_argument("--strategy", choices=("default", "mirrored"), default="default",
                       help="mirrored = tf.distribute.MirroredStrategy over all GPUs "
                       "(or all CPU devices without a GPU) (default: %(default)s)")
    speed.add_argument("--cpu-replicas", type=int, default=0,
                       help="split the CPU into this many logical devices (to try "
                       "--strategy mirrored without GPUs)")
    add_old_spelling(parser, "--batch", "--batch-size")
    add_old_spelling(parser, "--lr", "--learning-rate")
    return parser.parse_args(argv)


def _conditional_options(args):
    """The data options of a --views run: data is DATA_ROOT, view names the set of views."""
    from generator.conditional_input import ALL_VIEWS, parse_views
    if args.data or args.view:
        raise UsageError("--views trains on DATA_ROOT/<view> folders; leave out --data and --view")
    views = parse_views(args.views)
    without = parse_views(args.without) if args.without else []
    root = Path(args.data_root)
    if not root.is_dir():
        raise UsageError(f"{root}: no such folder (--data-root, with one sub-folder per view)")
    name = ALL_VIEWS if args.views.strip() == ALL_VIEWS else "+".join(views)
    return {"data": str(root), "view": name, "views_asked": views, "without": without}


def resolve_options(args):
    """The options dict a run records in options.json."""
    if args.without and not args.views:
        raise UsageError("--without needs --views")
    if args.conditioning != "input" and not args.views:
        raise UsageError(f"--conditioning {args.conditioning} needs --views (a one-view "
                         f"generator has no view to condition on)")
    check_image_size(args.image_size)
    if args.views:
        data_options = _conditional_options(args)
    else:
        data_options = _one_view_options(args)
        find_training_images(data_options["data"])
    for name in ("batch", "n_critic", "latent_dim", "width", "epochs", "grid", "eval_every",
                 "eval_samples"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1")
    if not 0.0 <= args.ema < 1.0:
        raise UsageError(f"--ema must be in [0, 1) (0 = off), not {args.ema}")
    options = vars(args).copy()
    options.pop("data_root")
    options.pop("sweep")
    options.pop("cpu_replicas")
    options.pop("views")
    options.update(data_options)
    return options


def _one_view_options(args):
    """The data options of a one-view run: its folder and its view."""
    if not args.data and not args.view:
        raise UsageError("give --data FOLDER, or --view VIEW (with --data-root)")
    if args.view:
        try:
            check_view(args.view)
        except ValueError as error:
            raise UsageError(str(error)) from None
    data = Path(args.data) if args.data else Path(args.data_root) / args.view
    view = args.view or data.resolve().name
    if view not in VIEWS:
        print(f"warning: {data}: folder name {view!r} is not a view name; recorded as the view "
              f"(pass --view to name it)", file=sys.stderr)
    return {"data": str(data), "view": view, "views_asked": None, "without": None}


def main(argv=None):
    """Parse, train (or sweep), print where the results are."""
    args = parse_args(argv)
    options = resolve_options(args)
    if args.sweep:
        from generator.sweep import parse_sweep, run_sweep
        grid = parse_sweep(args.sweep, SWEEPABLE)
        if options.get("out"):
            raise UsageError("--out names one run folder; a sweep makes one per configuration")
    from generator.callbacks import TrainingDiverged  # imports TensorFlow
    from generator.training import split_cpu, train
    if args.cpu_replicas:
        split_cpu(args.cpu_replicas)
    if args.sweep:
        return 1 if run_sweep(options, grid, train) else 0
    try:
        folder = train(options)
    except TrainingDiverged as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    made = (folder.generator_file, folder.images, folder.metrics_file, folder.loss_plot,
            folder.progress_gif)
    print(f"done: {folder.path} ({', '.join(path.name + ('/' if path.is_dir() else '') for path in made)})")
    return 0


if __name__ == "__main__":
    run_main(main)
