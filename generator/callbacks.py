"""The per-epoch work of WGAN training as Keras callbacks, the way the classifier's `fit` uses them.

`generator.training` drives a `keras.callbacks.CallbackList` of these from its own loop (the
compiled step reads its real batches inside one `tf.function`, which `fit` cannot feed), with
the params `epochs` and `steps` like `fit`. Epochs are numbered from 1, as in the run folder's
files. A batch's logs are the step's losses plus `step` (generator iterations so far),
`images_per_second` and `seconds` (training time of the run so far); an epoch's logs are
`step`, `seconds` (of the epoch) and `images_per_second`.

- `MetricsLog`: metrics.csv rows, written once per epoch;
- `StopWhenNotFinite`: raises `TrainingDiverged` at the first NaN or infinite loss;
- `SampleGrid`: the grid from the fixed latents (images/generated_plot_EEEE.png);
- `SaveCheckpoint`, `SaveGenerator`: the tf.train checkpoint and generator.keras;
- `ProgressPictures`: loss_plot.png and progress.gif, about ten times a run and at the end;
- `EpochReport`: the progress bar and the line per epoch;
- `Evaluation`: eval.csv and generator_best.keras (--classifier), its figures added to the
  epoch's logs as `eval/<figure>`;
- `TensorBoardLog`: event files in tensorboard/: every step's losses, the evaluation figures,
  the epoch's grid.

The averaged generator's batch-norm statistics (--ema) are measured by `WGAN.sampler` when a
callback first asks for it after training steps.
"""

import math
from pathlib import Path

import numpy as np
from PIL import Image

from cargen.cli import Progress, quiet_tensorflow
from generator.run_folder import BEST_GENERATOR_FILE, EVAL_COLUMNS

quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow)

GIF_UPDATES = 10  # progress.gif and loss_plot.png are redrawn this many times a run, and at the end
GIF_WIDTH = 400  # pixels: frames at about the tiles' own size (the PNG grids are enlarged)


class TrainingDiverged(Exception):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def is_last_epoch(callback, epoch):
    """True when `epoch` is the last the run trains (the `epochs` param)."""
    return epoch == callback.params["epochs"]


class MetricsLog(keras.callbacks.Callback):
    """One metrics.csv row per generator iteration, appended at the end of each epoch (the
    rows of an epoch killed before its checkpoint are dropped on resume anyway)."""

    def __init__(self, folder):
        super().__init__()
        self.folder, self.rows, self.epoch = folder, [], None

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch for its rows."""
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Keep the step's row."""
        self.rows.append({**logs, "step": int(logs["step"]), "epoch": self.epoch})

    def write(self):
        """Append the rows kept so far to metrics.csv."""
        self.folder.append_metrics(self.rows)
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        """Append the epoch's rows."""
        self.write()


class StopWhenNotFinite(keras.callbacks.Callback):
    """Raise `TrainingDiverged` naming the losses that stopped being finite, after writing the
    metrics rows so far (the bad one included) with `metrics_log`."""

    def __init__(self, metrics_log, manager, loss):
        super().__init__()
        self.metrics_log, self.manager, self.loss = metrics_log, manager, loss
        self.epoch = None

    def on_epoch_begin(self, epoch, logs=None):
        """Remember the epoch for the message."""
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        """Stop at the first loss that is NaN or infinite."""
        bad = [name for name, value in logs.items() if not math.isfinite(value)]
        if not bad:
            return
        self.metrics_log.write()
        last = self.manager.latest_checkpoint or "none (no epoch finished)"
        raise TrainingDiverged(
            f"training stopped at generator iteration {int(logs['step'])} (epoch {self.epoch}): "
            f"{', '.join(bad)} not finite; kept the last good checkpoint: {last}. Lower --lr" +
            ("" if self.loss == "wgan-gp" else ", or try --loss wgan-gp"))


class SampleGrid(keras.callbacks.Callback):
    """After every epoch, the grid of the images the generator draws from the same fixed
    latents, each shown at width / height `aspect`. A conditional generator of `views` draws
    one row per view, named on the left, from the same latents in every row (the same car
    turning)."""

    def __init__(self, folder, wgan, fixed_latents, columns, aspect, views=None):
        super().__init__()
        self.folder, self.wgan, self.fixed_latents = folder, wgan, fixed_latents
        self.columns, self.aspect, self.views = columns, aspect, views

    def on_epoch_end(self, epoch, logs=None):
        """Save the epoch's grid."""
        from generator.sampling import view_rows
        inputs = (view_rows(self.fixed_latents.numpy(), range(len(self.views))) if self.views
                  else self.fixed_latents)
        images = self.wgan.sampler(inputs, training=False).numpy()
        self.folder.save_grid(images, epoch, self.columns, self.aspect, self.views)


class SaveCheckpoint(keras.callbacks.Callback):
    """After every epoch, a tf.train checkpoint numbered by the epoch (`manager` keeps the
    last few): what --resume restores."""

    def __init__(self, manager):
        super().__init__()
        self.manager = manager

    def on_epoch_end(self, epoch, logs=None):
        """Save the checkpoint."""
        self.manager.save(checkpoint_number=epoch)


class SaveGenerator(keras.callbacks.Callback):
    """After every epoch, generator.keras: the generator to draw with (`WGAN.sampler`)."""

    def __init__(self, folder, wgan):
        super().__init__()
        self.folder, self.wgan = folder, wgan

    def on_epoch_end(self, epoch, logs=None):
        """Save the generator."""
        self.folder.save_model(self.wgan.sampler)


class ProgressPictures(keras.callbacks.Callback):
    """loss_plot.png and progress.gif, redrawn `updates` times a run and after the last epoch
    (each redraws the whole run, 0.3-2 s: not every epoch)."""

    def __init__(self, folder, updates=GIF_UPDATES, gif_width=GIF_WIDTH):
        super().__init__()
        self.folder, self.updates, self.gif_width = folder, updates, gif_width
        self.up_to_date = True

    def on_epoch_end(self, epoch, logs=None):
        """Redraw both when it is time."""
        self.up_to_date = (is_last_epoch(self, epoch) or
                           epoch % max(1, self.params["epochs"] // self.updates) == 0)
        if self.up_to_date:
            self.draw()

    def on_train_end(self, logs=None):
        """Redraw both if the last epoch trained was not drawn (a run stopped by --minutes)."""
        if not self.up_to_date:
            self.draw()

    def draw(self):
        """Redraw loss_plot.png and progress.gif."""
        self.folder.plot_losses()
        self.folder.write_gif(max_side=self.gif_width)


class EpochReport(keras.callbacks.Callback):
    """A progress bar per epoch (with `progress`) and one line per epoch: iterations, mean
    losses, images/s, seconds and the grid written."""

    def __init__(self, folder, critic_images, say, progress=True):
        super().__init__()
        self.folder, self.critic_images, self.say, self.progress = (
            folder, critic_images, say, progress)
        self.bar, self.rows = None, []

    def on_epoch_begin(self, epoch, logs=None):
        """Start the epoch's bar."""
        self.rows = []
        if self.progress:
            self.bar = Progress(self.params["steps"] * self.critic_images,
                                f"epoch {epoch}/{self.params['epochs']}", always=False)

    def on_train_batch_end(self, batch, logs=None):
        """Advance the bar."""
        self.rows.append(logs)
        if self.bar:
            self.bar.update(self.critic_images, f"W {logs['wasserstein']:.4g}")

    def on_epoch_end(self, epoch, logs=None):
        """Close the bar and print the epoch's line."""
        if self.bar:
            self.bar.close()
        mean = {key: np.mean([row[key] for row in self.rows]) for key in self.rows[0]}
        self.say(f"epoch {epoch}/{self.params['epochs']}  iteration {int(logs['step'])}  "
                 f"W {mean['wasserstein']:.4g}  critic real {mean['critic_loss_real']:.4g} "
                 f"fake {mean['critic_loss_fake']:.4g}  generator {mean['generator_loss']:.4g}  "
                 f"{logs['images_per_second']:,.0f} img/s  {logs['seconds']:.1f} s  -> "
                 f"{self.folder.grid_path(epoch)}")


class Evaluation(keras.callbacks.Callback):
    """Evaluates the generator with `generator.quality` every `eval_every` epochs and after the
    last (--classifier): rows in eval.csv, and generator_best.keras whenever FD-classifier
    improves. A generator of many views is evaluated view by view (`generator.view_control`)
    into eval_views.csv; its eval.csv row holds the means over the views."""

    def __init__(self, options, folder, images, wgan, say):
        super().__init__()
        from classifier.inference import load_classifier
        self.options, self.folder, self.wgan, self.say = options, folder, wgan, say
        self.classifier = load_classifier(options["classifier"])
        failed = set(images.failed)
        self.real = [p for p in images.paths if str(p) not in failed]
        self.best = min((float(row["fd_classifier"]) for row in folder.read_csv(folder.eval_file)
                         if row.get("fd_classifier")), default=None)

    def on_epoch_end(self, epoch, logs=None):
        """Evaluate when it is time."""
        if epoch % self.options["eval_every"] == 0 or is_last_epoch(self, epoch):
            figures = self.evaluate(epoch, int(logs["step"]))
            logs.update({f"eval/{key}": float(figures[key]) for key in (*EVAL_COLUMNS,
                                                                       "view_control")
                         if figures.get(key) is not None})

    def _figures(self, step, epoch):
        """The evaluation's figures (for many views: their means, after writing their rows)."""
        from generator.quality import evaluate_generator, real_statistics
        from generator.sampling import wrap_model
        options = self.options
        generator = wrap_model(self.wgan.sampler, options=options)
        if not options.get("views"):
            if isinstance(self.real, list):  # statistics of the real images: computed once
                self.real = real_statistics(self.classifier, self.real, options["view"],
                                            options["batch"], image_size=options["image_size"],
                                            fit=options["fit"], channels=options["channels"])
            return evaluate_generator(generator, self.classifier, self.real, options["view"],
                                      options["eval_samples"], seed=options["seed"],
                                      batch_size=options["batch"])
        from generator.view_control import evaluate_views, real_view_statistics
        if isinstance(self.real, list):
            self.real = real_view_statistics(
                self.classifier, Path(options["data"]), options["views"], options["image_size"],
                options["fit"], options["channels"], options["batch"])
        result = evaluate_views(generator, self.classifier, self.real, options["eval_samples"],
                                options["seed"], options["batch"])
        self.folder.append_view_eval([{"step": step, "epoch": epoch, **figures}
                                      for figures in result["views"].values()])
        judged = [f for f in result["views"].values() if "fd_classifier" in f]
        return {key: float(np.mean([f[key] for f in judged]))
                for key in EVAL_COLUMNS[2:]} | {"view_control": result["view_control"]}

    def evaluate(self, epoch, step):
        """Evaluate now: an eval.csv row, generator_best.keras if best; returns the figures."""
        figures = self._figures(step, epoch)
        generator = self.wgan.sampler
        row = {key: figures.get(key) for key in EVAL_COLUMNS if key not in ("step", "epoch")}
        self.folder.append_eval({"step": step, "epoch": epoch, **row})
        self.say("  evaluation: " + ", ".join(f"{k} {float(v):.4g}" for k, v in row.items()))
        fd = float(figures["fd_classifier"])
        if self.best is None or fd < self.best:
            self.best = fd
            path = self.folder.save_model(generator, BEST_GENERATOR_FILE)
            self.say(f"  best FD-classifier so far -> {path}")
        return figures


class TensorBoardLog(keras.callbacks.Callback):
    """TensorBoard event files in the run folder's tensorboard/: every step's losses and
    images/s under their metrics.csv names, each epoch's grid PNG and the evaluation figures
    (`eval/...` in the epoch's logs), all against generator iterations. Put it after
    `SampleGrid` and `Evaluation` in the list.

    The events are written with TensorFlow's own `tf.summary.write` and the metadata of
    TensorBoard's scalar and image plugins, so training needs no `tensorboard` package (which
    `tf.summary.scalar` and `tf.summary.image` import); TensorBoard reads them as its own."""

    def __init__(self, folder):
        super().__init__()
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2
        self.folder, self.tf = folder, tf
        self.writer = tf.summary.create_file_writer(str(folder.tensorboard))
        self.metadata = {}
        for plugin in ("scalars", "images"):
            metadata = summary_pb2.SummaryMetadata()
            metadata.plugin_data.plugin_name = plugin
            self.metadata[plugin] = metadata.SerializeToString()

    def _scalar(self, tag, value, step):
        self.tf.summary.write(tag, self.tf.constant(float(value), self.tf.float32), step,
                              metadata=self.metadata["scalars"])

    def on_train_batch_end(self, batch, logs=None):
        """Write the step's scalars."""
        with self.writer.as_default():
            for key, value in logs.items():
                if key not in ("step", "seconds"):
                    self._scalar(key, value, int(logs["step"]))

    def on_epoch_end(self, epoch, logs=None):
        """Write the evaluation figures and the grid, and flush."""
        step = int(logs["step"])
        with self.writer.as_default():
            for key, value in logs.items():
                if key.startswith("eval/"):
                    self._scalar(key, value, step)
            grid = self.folder.grid_path(epoch)
            if grid.exists():
                with Image.open(grid) as image:
                    width, height = image.size
                picture = [str(width).encode(), str(height).encode(), grid.read_bytes()]
                self.tf.summary.write("grid", self.tf.constant(picture), step,
                                      metadata=self.metadata["images"])
        self.writer.flush()

    def on_train_end(self, logs=None):
        """Close the event file."""
        self.writer.close()
