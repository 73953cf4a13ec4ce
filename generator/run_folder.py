"""A generator run folder: options, metrics, sample grids, loss plot, GIF, checkpoints, models.

The one owner of the folder's file names: training writes, and `generator/generate.py`,
`evaluate.py`, `progress_gif.py` and the demo summary read, through `RunFolder`. Layout:

    generator/models/<view>_<key params>/
        options.json             every option of the run
        metrics.csv              one row per generator iteration
        eval.csv                 one row per evaluation (--classifier), when it ran; for a
                                 generator of many views the means over its views
        eval_views.csv           a generator of many views: one row per evaluation and view
        loss_plot.png            the losses so far, redrawn every epoch
        images/generated_plot_EEEE.png   a grid from the same fixed latents after every epoch
        progress.gif             those grids as an animation (rewritten now and then)
        checkpoints/             the last few tf.train checkpoints (weights, optimizers, step)
        generator.keras          the generator after the last finished epoch
        generator_best.keras     the generator with the best FD-classifier so far (evaluation)
        eval.json                the figures of `generator/evaluate.py`, when it ran
        view_confusion.png       its asked-versus-seen views, for a generator of many views
        tensorboard/             TensorBoard event files: the losses, evaluations and grids

Every file is written through `cargen.safe_files`, so a run killed at any moment leaves only
whole files; a resumed run drops metric rows newer than its last checkpoint (and a half-written
last row).
"""

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from cargen.aspect import restore_aspect
from cargen.cli import UsageError
from cargen.run_options import check_same_options
from cargen.safe_files import repair_last_line, replace_atomically, write_text
from generator.pictures import grid_scale, image_grid, label_rows, save_gif, to_rgb, to_uint8

OPTIONS_FILE = "options.json"
METRICS_FILE = "metrics.csv"
EVAL_FILE = "eval.csv"
VIEW_EVAL_FILE = "eval_views.csv"
EVAL_REPORT_FILE = "eval.json"
VIEW_CONFUSION_FILE = "view_confusion.png"
LOSS_PLOT_FILE = "loss_plot.png"
PROGRESS_GIF_FILE = "progress.gif"
IMAGES_DIR = "images"
GRID_FILES = "generated_plot_*.png"  # one per epoch: generated_plot_EEEE.png
CHECKPOINTS_DIR = "checkpoints"
TENSORBOARD_DIR = "tensorboard"

# what generate.py writes into its --out folder of samples
SAMPLES_GRID_FILE = "grid.png"
SAMPLES_WALK_FILE = "interpolation.gif"
GENERATOR_FILE = "generator.keras"
BEST_GENERATOR_FILE = "generator_best.keras"

METRIC_COLUMNS = ("step", "epoch", "critic_loss_real", "critic_loss_fake", "wasserstein",
                  "gradient_penalty", "generator_loss", "images_per_second", "seconds")
EVAL_COLUMNS = ("step", "epoch", "view_fidelity", "real_view_fidelity", "fd_classifier", "kid",
                "diversity", "real_diversity")
VIEW_EVAL_COLUMNS = ("step", "epoch", "view", "view_fidelity", "real_view_fidelity",
                     "view_control", "fd_classifier", "kid", "diversity", "real_diversity")
# Options that change what is trained: a resumed run must have the same values. (How it is
# computed - --jit, --mixed-precision, --strategy - may change, e.g. to resume on a GPU.)
TRAINING_OPTIONS = ("data", "view", "image_size", "channels", "fit", "loss", "latent_dim",
                    "batch", "n_critic", "lr", "clip_value", "gp_weight", "beta_1", "beta_2",
                    "width", "steps_per_epoch", "grid", "seed", "ema", "views_asked", "without",
                    "conditioning")
# Values of training options that runs made before the option existed had.
OPTION_DEFAULTS = {"ema": 0.0, "views_asked": None, "without": None, "conditioning": "input"}
# The flags of the training options whose key is not the flag's name.
OPTION_FLAGS = {"batch": "--batch-size", "lr": "--learning-rate", "views_asked": "--views"}
NAME_OPTIONS = ("loss", "image_size", "latent_dim", "batch", "n_critic")
MAX_GIF_FRAMES = 100
GRID_MIN_TILE = 128  # pixels: small images are enlarged to at least this in the grids


def run_name(options, extra=()):
    """Folder name `<view>_<loss>_<S>px_z<latent>_b<batch>_nc<n_critic>[_gray][_<key><value>]`.

    `extra` names further options to put in the name (the keys a sweep varies)."""
    name = (f"{options['view']}_{options['loss']}_{options['image_size']}px_"
            f"z{options['latent_dim']}_b{options['batch']}_nc{options['n_critic']}")
    if options["channels"] == 1:
        name += "_gray"
    for key in extra:
        if key not in NAME_OPTIONS:
            name += f"_{key.replace('_', '')}{options[key]}"
    return name


class RunFolder:
    """Reads and writes one run folder (see the module docstring)."""

    def __init__(self, path):
        self.path = Path(path)
        self.images = self.path / IMAGES_DIR
        self.checkpoints = self.path / CHECKPOINTS_DIR
        self.tensorboard = self.path / TENSORBOARD_DIR
        self.options_file = self.path / OPTIONS_FILE
        self.metrics_file = self.path / METRICS_FILE
        self.eval_file = self.path / EVAL_FILE
        self.view_eval_file = self.path / VIEW_EVAL_FILE
        self.eval_report = self.path / EVAL_REPORT_FILE
        self.loss_plot = self.path / LOSS_PLOT_FILE
        self.progress_gif = self.path / PROGRESS_GIF_FILE
        self.generator_file = self.path / GENERATOR_FILE
        self.best_generator_file = self.path / BEST_GENERATOR_FILE

    # options -------------------------------------------------------------------------------
    def exists(self):
        """True if a run was started here (options.json written)."""
        return self.options_file.exists()

    def read_options(self, missing_ok=False):
        """The options.json of the run ({} when it is missing and `missing_ok`); UsageError
        when it cannot be read or is not a JSON object."""
        if missing_ok and not self.options_file.is_file():
            return {}
        try:
            options = json.loads(self.options_file.read_text())
        except (OSError, ValueError) as error:
            raise UsageError(f"{self.options_file}: cannot read ({error})") from None
        if not isinstance(options, dict):
            raise UsageError(f"{self.options_file}: not a JSON object")
        return options

    def write_options(self, options):
        """Create the folder and write options.json."""
        self.images.mkdir(parents=True, exist_ok=True)
        self.checkpoints.mkdir(exist_ok=True)
        write_text(self.options_file, json.dumps(options, indent=2, sort_keys=True) + "\n")

    def check_resumable(self, options):
        """Raise UsageError unless options.json matches `options` on every training option."""
        check_same_options(self.options_file, self.read_options(), options, TRAINING_OPTIONS,
                           defaults=OPTION_DEFAULTS, flags=OPTION_FLAGS)

    # metrics -------------------------------------------------------------------------------
    def start_metrics(self, last_step=0):
        """Make sure metrics.csv exists with its header; drop rows after `last_step` (from a
        run killed after its last checkpoint). Returns the last kept row (or None)."""
        kept = self._drop_rows_after(self.metrics_file, METRIC_COLUMNS, last_step)
        if not self.metrics_file.exists():
            self._write_csv(self.metrics_file, METRIC_COLUMNS, [])
        self._drop_rows_after(self.eval_file, EVAL_COLUMNS, last_step)
        self._drop_rows_after(self.view_eval_file, VIEW_EVAL_COLUMNS, last_step)
        return kept[-1] if kept else None

    def _drop_rows_after(self, path, columns, last_step):
        """Rewrite the CSV file without its rows after `last_step` (and a half-written last
        line); returns the rows kept."""
        repair_last_line(path)
        rows = self.read_csv(path)
        kept = [row for row in rows if int(row["step"]) <= last_step]
        if len(kept) != len(rows):
            self._write_csv(path, columns, kept)
        return kept

    @staticmethod
    def read_csv(path):
        """Rows of a CSV file as dicts ([] when it does not exist)."""
        if not Path(path).exists():
            return []
        with open(path, newline="") as handle:
            return list(csv.DictReader(handle))

    def _write_csv(self, path, columns, rows):
        def write(temporary):
            with open(temporary, "w", newline="") as handle:
                writer = csv.DictWriter(handle, columns, extrasaction="ignore")
                writer.writeheader()
                writer.writerows(rows)
        replace_atomically(path, write)

    def append_metrics(self, rows):
        """Append rows (dicts with METRIC_COLUMNS) to metrics.csv."""
        self._append(self.metrics_file, METRIC_COLUMNS, rows)

    def append_eval(self, row):
        """Append one evaluation row (dict with EVAL_COLUMNS) to eval.csv."""
        self._append(self.eval_file, EVAL_COLUMNS, [row])

    def append_view_eval(self, rows):
        """Append one evaluation's rows, one per view (VIEW_EVAL_COLUMNS), to eval_views.csv."""
        self._append(self.view_eval_file, VIEW_EVAL_COLUMNS, rows)

    @staticmethod
    def _append(path, columns, rows):
        new = not Path(path).exists()
        with open(path, "a", newline="") as handle:
            writer = csv.DictWriter(handle, columns, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerows(rows)

    # pictures ------------------------------------------------------------------------------
    def grid_path(self, epoch):
        """images/generated_plot_EEEE.png for `epoch`."""
        return self.images / GRID_FILES.replace("*", f"{epoch:04d}")

    def grids(self):
        """The saved grids, oldest epoch first."""
        return sorted(self.images.glob(GRID_FILES))

    def save_grid(self, images, epoch, columns, aspect=None, row_labels=None):
        """Save generated images (N, S, S, C) in [-1, 1] as the grid of `epoch`, each shown
        at width / height `aspect` (see `cargen.aspect.restore_aspect`), its rows named by
        `row_labels` in a margin on the left when given."""
        images = to_rgb(restore_aspect(to_uint8(images), aspect))
        grid = image_grid(images, columns, padding=2, background=255,
                          scale=grid_scale(images.shape[1], GRID_MIN_TILE))
        if row_labels:
            grid = label_rows(grid, row_labels)
        path = self.grid_path(epoch)
        replace_atomically(path, lambda p: Image.fromarray(grid).save(p, format="PNG"))
        return path

    def write_gif(self, seconds_per_frame=0.25, path=None, max_frames=MAX_GIF_FRAMES,
                  max_side=None):
        """Animate the saved grids into `path` (default progress.gif): at most `max_frames`,
        evenly spaced, the last included, each shrunk to at most `max_side` pixels wide."""
        grids = self.grids()
        if not grids:
            return None
        if len(grids) > max_frames:
            picks = np.linspace(0, len(grids) - 1, max_frames).round().astype(int)
            grids = [grids[i] for i in picks]
        frames = []
        for grid in grids:
            with Image.open(grid) as opened:
                image = opened.convert("RGB")
            if max_side and image.width > max_side:
                image = image.resize((max_side, round(image.height * max_side / image.width)),
                                     Image.LANCZOS)
            frames.append(np.asarray(image))
        return save_gif(np.stack(frames), Path(path) if path else self.progress_gif,
                        fps=1 / seconds_per_frame, shared_palette=False)

    def plot_losses(self):
        """Redraw loss_plot.png from metrics.csv: critic losses and generator loss above, the
        Wasserstein estimate below, against generator iterations."""
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib.figure import Figure
        rows = self.read_csv(self.metrics_file)
        if not rows:
            return None
        columns = {key: np.array([float(row[key]) for row in rows]) for key in METRIC_COLUMNS}
        steps = columns["step"]
        figure = Figure(figsize=(8, 6), dpi=100)
        top, bottom = figure.subplots(2, 1, sharex=True)
        for key, label in (("critic_loss_real", "critic loss, real (-mean f(x))"),
                           ("critic_loss_fake", "critic loss, fake (mean f(G(z)))"),
                           ("generator_loss", "generator loss (-mean f(G(z)))")):
            top.plot(steps, columns[key], label=label, linewidth=1)
        top.legend(loc="best", fontsize=8)
        top.set_ylabel("loss")
        bottom.plot(steps, columns["wasserstein"], color="black", linewidth=1,
                    label="Wasserstein estimate")
        if np.any(columns["gradient_penalty"]):
            bottom.plot(steps, columns["gradient_penalty"], color="tab:red", linewidth=1,
                        label="gradient penalty")
        bottom.legend(loc="best", fontsize=8)
        bottom.set_xlabel("generator iteration")
        bottom.set_ylabel("estimate")
        figure.suptitle(self.path.name, fontsize=9)
        figure.tight_layout()
        replace_atomically(self.loss_plot, lambda p: figure.savefig(p, format="png"))
        return self.loss_plot

    # models --------------------------------------------------------------------------------
    def save_model(self, model, name=GENERATOR_FILE):
        """Save a Keras model in the folder (atomically)."""
        path = self.path / name
        replace_atomically(path, lambda p: model.save(p))
        return path

    def model_file(self, prefer_best=True):
        """The generator to load: generator_best.keras when it exists and `prefer_best` is
        set, else generator.keras; UsageError when neither is there."""
        names = [BEST_GENERATOR_FILE, GENERATOR_FILE] if prefer_best else [GENERATOR_FILE]
        for name in names:
            if (self.path / name).is_file():
                return self.path / name
        raise UsageError(f"{self.path}: no {GENERATOR_FILE} in this folder (not a generator run "
                         "folder, or training has not saved a model yet)")
