"""Training a WGAN on one view folder into a run folder: set-up, resume, the epoch loop.

`train(options)` does everything `generator/train_wgan.py` promises; `options` is a dict with
the script's option names (see `train_wgan.py --help`). An epoch is ceil(images / batch)
generator iterations (the seed's definition), unless `steps_per_epoch` is given.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np

from cargen.aspect import display_aspect
from cargen.cli import Progress, UsageError, quiet_tensorflow
from generator.run_folder import BEST_GENERATOR_FILE, EVAL_COLUMNS, RunFolder, run_name

tf = quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow)

from generator.input import TrainingImages, check_image_size  # noqa: E402
from generator.networks import build_critic, build_generator  # noqa: E402
from generator.wgan import LOSSES, WGAN  # noqa: E402

CHECKPOINTS_KEPT = 3
GIF_UPDATES = 10  # progress.gif and loss_plot.png are redrawn this many times a run, and at the end
GIF_WIDTH = 400  # pixels: frames at about the tiles' own size (the PNG grids are enlarged)
DEFAULT_LR = {"wgan": 5e-5, "wgan-gp": 1e-4}


class TrainingDiverged(Exception):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


def make_strategy(name):
    """`None` (the default strategy) or a MirroredStrategy over all GPUs, else all CPU devices
    (logical CPU devices stand in for GPUs in tests)."""
    if name in (None, "default"):
        return None
    if name != "mirrored":
        raise UsageError(f"--strategy must be default or mirrored, not {name!r}")
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
    return tf.distribute.MirroredStrategy(devices=devices)


def split_cpu(replicas):
    """Split the CPU into `replicas` logical devices (call before TensorFlow runs anything)."""
    cpus = tf.config.list_physical_devices("CPU")
    tf.config.set_logical_device_configuration(
        cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(replicas)])


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether the CPU computes bfloat16 natively (AVX512_BF16 or AMX); False if unknown."""
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def mixed_precision_policy(enabled, say=print):
    """'mixed_float16' on a GPU, 'mixed_bfloat16' on a CPU with native bfloat16, else (and
    when not enabled) 'float32': emulated bfloat16 would be slower than float32."""
    if not enabled:
        return "float32"
    if tf.config.list_physical_devices("GPU"):
        return "mixed_float16"
    if cpu_has_bfloat16():
        return "mixed_bfloat16"
    say("note: --mixed-precision ignored: this CPU has no native bfloat16 (AVX512_BF16/AMX); "
        "training in float32")
    return "float32"


def _optimizers(options, policy):
    if options["loss"] == "wgan":
        make = lambda: keras.optimizers.RMSprop(options["lr"])  # noqa: E731
    else:
        make = lambda: keras.optimizers.Adam(options["lr"], beta_1=options["beta_1"],  # noqa: E731
                                             beta_2=options["beta_2"])
    generator_optimizer, critic_optimizer = make(), make()
    if policy == "mixed_float16":
        generator_optimizer = keras.optimizers.LossScaleOptimizer(generator_optimizer)
        critic_optimizer = keras.optimizers.LossScaleOptimizer(critic_optimizer)
    return generator_optimizer, critic_optimizer


def build_wgan(options, strategy=None):
    """Networks, optimizers and the WGAN for `options` (under `strategy`'s scope)."""
    scope = strategy.scope() if strategy else tf.distribute.get_strategy().scope()
    with scope:
        generator = build_generator(options["latent_dim"], options["image_size"],
                                    options["channels"], options["width"])
        critic = build_critic(options["image_size"], options["channels"], options["width"],
                              normalization="batch" if options["loss"] == "wgan" else "layer")
        generator_optimizer, critic_optimizer = _optimizers(
            options, keras.mixed_precision.global_policy().name)
        wgan = WGAN(generator, critic, generator_optimizer, critic_optimizer,
                    options["latent_dim"], loss=options["loss"], n_critic=options["n_critic"],
                    clip_value=options["clip_value"], gp_weight=options["gp_weight"],
                    strategy=strategy, jit=options["jit"], ema=options.get("ema", 0.0))
        wgan.build()
    return wgan


def _not_finite(metrics, step, epoch, manager, loss):
    """TrainingDiverged naming the losses that are NaN or infinite, or None if all are finite."""
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if not bad:
        return None
    last = manager.latest_checkpoint or "none (no epoch finished)"
    return TrainingDiverged(
        f"training stopped at generator iteration {step} (epoch {epoch}): {', '.join(bad)} "
        f"not finite; kept the last good checkpoint: {last}. Lower --lr" +
        ("" if loss == "wgan-gp" else ", or try --loss wgan-gp"))


class Evaluator:
    """Evaluates the generator with `generator.quality` every few epochs (--classifier): rows in
    eval.csv, and generator_best.keras whenever FD-classifier improves."""

    def __init__(self, options, folder, images):
        from classifier.inference import load_classifier
        self.options, self.folder = options, folder
        self.classifier = load_classifier(options["classifier"])
        failed = set(images.failed)
        self.real_paths = [p for p in images.paths if str(p) not in failed]
        self.best = min((float(row["fd_classifier"]) for row in folder.read_csv(folder.eval_file)
                         if row.get("fd_classifier")), default=None)

    def __call__(self, generator, epoch, step, say):
        """Evaluate now; returns the figures."""
        from generator.quality import evaluate_generator, real_statistics
        options = self.options
        if isinstance(self.real_paths, list):  # statistics of the real images: computed once
            self.real_paths = real_statistics(self.classifier, self.real_paths, options["view"],
                                              options["batch"], image_size=options["image_size"],
                                              fit=options["fit"], channels=options["channels"])
        figures = evaluate_generator(generator, self.classifier, self.real_paths,
                                     options["view"], options["eval_samples"],
                                     seed=options["seed"], batch_size=options["batch"])
        row = {key: figures.get(key) for key in EVAL_COLUMNS if key not in ("step", "epoch")}
        self.folder.append_eval({"step": step, "epoch": epoch, **row})
        say("  evaluation: " + ", ".join(f"{k} {float(v):.4g}" for k, v in row.items()))
        fd = float(figures["fd_classifier"])
        if self.best is None or fd < self.best:
            self.best = fd
            path = self.folder.save_model(generator, BEST_GENERATOR_FILE)
            say(f"  best FD-classifier so far -> {path}")
        return figures


def resolve_run_folder(options, sweep_keys=()):
    """The RunFolder for `options`: `out` if given, else models_dir/<run name>."""
    if options.get("out"):
        return RunFolder(options["out"])
    return RunFolder(Path(options["models_dir"]) / run_name(options, sweep_keys))


def train(options, sweep_keys=(), out=sys.stdout):
    """Train as `options` say; returns the RunFolder. Raises UsageError for bad input and
    TrainingDiverged when a loss stops being finite."""
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    check_image_size(options["image_size"])  # before anything slow (a sweep may vary it)
    if options["loss"] not in LOSSES:
        raise UsageError(f"loss must be one of {', '.join(LOSSES)}, not {options['loss']!r}")
    if options.get("lr") is None:
        options = {**options, "lr": DEFAULT_LR[options["loss"]]}
    folder = resolve_run_folder(options, sweep_keys)
    if options["resume"]:
        if not folder.exists():
            raise UsageError(f"{folder.path}: no run to resume here (no {folder.options_file.name})")
        folder.check_resumable(options)
    elif folder.exists():
        raise UsageError(f"{folder.path}: a run already exists here; add --resume to continue "
                         f"it, or delete the folder to start again")

    keras.backend.clear_session()  # frees the graphs of an earlier run (a sweep)
    keras.utils.set_random_seed(options["seed"])
    policy = mixed_precision_policy(options["mixed_precision"], say)
    keras.mixed_precision.set_global_policy(policy)
    try:
        return _train(options, folder, say)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _checkpointed_state(options):
    """The training state a checkpoint holds besides the networks and optimizers: generator
    iterations and epochs done, training seconds, and the fixed latents of the grids."""
    fixed = np.random.default_rng(options["seed"]).standard_normal(
        (options["grid"] ** 2, options["latent_dim"])).astype(np.float32)
    return {"step": tf.Variable(0, dtype=tf.int64, trainable=False, name="step"),
            "epoch": tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch"),
            "seconds": tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds"),
            "fixed_latents": tf.Variable(fixed, trainable=False, name="fixed_latents")}


def _train(options, folder, say):
    images = TrainingImages(options["data"], options["image_size"], options["channels"],
                            options["fit"], cache_file=options["cache"],
                            progress=options["progress"])
    if images.failed:
        say(f"skipped {len(images.failed)} unreadable file(s), e.g. {images.failed[0]}")
    strategy = make_strategy(options["strategy"])
    batch = options["batch"]
    replicas = strategy.num_replicas_in_sync if strategy else 1
    if batch % replicas:
        raise UsageError(f"--batch {batch} must be a multiple of the {replicas} replicas")
    steps_per_epoch = options["steps_per_epoch"] or math.ceil(images.count / batch)
    wgan = build_wgan(options, strategy)
    options["display_aspect"] = display_aspect(images.paths, options["fit"])
    folder.write_options(options)  # on resume too: --epochs or the speed options may differ
    devices = (f"{replicas} replicas ({', '.join(strategy.extended.worker_devices)})"
               if strategy else "1 device")
    say(f"training on {images.count} images of {images.folder}, {steps_per_epoch} generator "
        f"iterations per epoch, {devices}, precision "
        f"{keras.mixed_precision.global_policy().name} -> {folder.path}")

    state = _checkpointed_state(options)
    if wgan.ema_generator is not None:
        state.update(ema_generator=wgan.ema_generator, ema_updates=wgan.ema_updates)
    checkpoint = tf.train.Checkpoint(
        generator=wgan.generator, critic=wgan.critic,
        generator_optimizer=wgan.generator_optimizer, critic_optimizer=wgan.critic_optimizer,
        **state)
    manager = tf.train.CheckpointManager(checkpoint, folder.checkpoints, CHECKPOINTS_KEPT)
    if options["resume"] and manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        say(f"resumed {folder.path} from {manager.latest_checkpoint}: epoch "
            f"{int(state['epoch'].numpy())}, generator iteration {int(state['step'].numpy())}")
    elif options["resume"]:
        say(f"resumed {folder.path}: no checkpoint yet, starting from the beginning")
    step, epoch_done, seconds_done = state["step"], state["epoch"], state["seconds"]
    fixed_latents = state["fixed_latents"]
    folder.start_metrics(int(step.numpy()))
    evaluate = Evaluator(options, folder, images) if options["classifier"] else None

    dataset = images.batches(batch, seed=options["seed"] + int(step.numpy()))
    if strategy:
        dataset = strategy.experimental_distribute_dataset(dataset)
    iterator = iter(dataset)
    critic_images = batch * options["n_critic"]
    iteration = int(step.numpy())
    first_epoch = int(epoch_done.numpy()) + 1
    if first_epoch > options["epochs"]:
        say(f"{folder.path}: already trained for {first_epoch - 1} epochs "
            f"(--epochs {options['epochs']}); nothing to do")
    for epoch in range(first_epoch, options["epochs"] + 1):
        bar = Progress(steps_per_epoch * critic_images, f"epoch {epoch}/{options['epochs']}",
                       always=False) if options["progress"] else None
        rows, start = [], time.perf_counter()
        seconds_before = float(seconds_done.numpy())
        for _ in range(steps_per_epoch):
            tick = time.perf_counter()
            metrics = {k: float(v) for k, v in wgan.train_step(iterator).items()}
            seconds = time.perf_counter() - tick
            iteration += 1
            rows.append({"step": iteration, "epoch": epoch, **metrics,
                         "images_per_second": round(critic_images / seconds, 2),
                         "seconds": round(seconds_before + time.perf_counter() - start, 3)})
            diverged = _not_finite(metrics, iteration, epoch, manager, options["loss"])
            if diverged:
                folder.append_metrics(rows)
                raise diverged
            if bar:
                bar.update(critic_images, f"W {metrics['wasserstein']:.4g}")
        elapsed = time.perf_counter() - start
        seconds_done.assign_add(elapsed)
        epoch_done.assign(epoch)
        step.assign(iteration)
        folder.append_metrics(rows)
        grid = folder.save_grid(wgan.sampler(fixed_latents, training=False).numpy(), epoch,
                                options["grid"], options["display_aspect"])
        manager.save(checkpoint_number=epoch)
        folder.save_model(wgan.sampler)
        if epoch == options["epochs"] or epoch % max(1, options["epochs"] // GIF_UPDATES) == 0:
            folder.plot_losses()  # both redraw the whole run (0.3-2 s): not every epoch
            folder.write_gif(max_side=GIF_WIDTH)
        if bar:
            bar.close()
        mean = {k: np.mean([row[k] for row in rows]) for k in rows[0]}
        say(f"epoch {epoch}/{options['epochs']}  iteration {iteration}  "
            f"W {mean['wasserstein']:.4g}  critic real {mean['critic_loss_real']:.4g} "
            f"fake {mean['critic_loss_fake']:.4g}  generator {mean['generator_loss']:.4g}  "
            f"{steps_per_epoch * critic_images / elapsed:,.0f} img/s  {elapsed:.1f} s  -> {grid}")
        if evaluate and (epoch % options["eval_every"] == 0 or epoch == options["epochs"]):
            evaluate(wgan.sampler, epoch, iteration, say)
    return folder
