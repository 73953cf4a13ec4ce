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

from data.cli import Progress, UsageError, quiet_tensorflow
from generator.run_folder import RunFolder, run_name

tf = quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow)

from generator.input import TrainingImages  # noqa: E402
from generator.networks import build_critic, build_generator, check_image_size  # noqa: E402
from generator.wgan import WGAN  # noqa: E402

CHECKPOINTS_KEPT = 3


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


def mixed_precision_policy(enabled):
    """'mixed_float16' on a GPU, 'mixed_bfloat16' on a CPU, 'float32' when not enabled."""
    if not enabled:
        return "float32"
    return "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"


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
    check_image_size(options["image_size"])
    scope = strategy.scope() if strategy else tf.distribute.get_strategy().scope()
    with scope:
        generator = build_generator(options["latent_dim"], options["image_size"],
                                    options["channels"], options["width"])
        critic = build_critic(options["image_size"], options["channels"], options["width"],
                              batch_norm=options["loss"] == "wgan")
        generator_optimizer, critic_optimizer = _optimizers(
            options, keras.mixed_precision.global_policy().name)
        wgan = WGAN(generator, critic, generator_optimizer, critic_optimizer,
                    options["latent_dim"], loss=options["loss"], n_critic=options["n_critic"],
                    clip_value=options["clip_value"], gp_weight=options["gp_weight"],
                    strategy=strategy, jit=options["jit"])
        wgan.build()
    return wgan


def _not_finite(metrics, step, epoch, manager):
    """TrainingDiverged naming the losses that are NaN or infinite, or None if all are finite."""
    bad = [name for name, value in metrics.items() if not math.isfinite(value)]
    if not bad:
        return None
    last = manager.latest_checkpoint or "none (no epoch finished)"
    return TrainingDiverged(
        f"training stopped at generator iteration {step} (epoch {epoch}): {', '.join(bad)} "
        f"not finite; kept the last good checkpoint: {last}. Lower --lr, or try --loss wgan-gp")


def _evaluate(options, wgan, folder, images, epoch, step, best):
    """Run generator.quality's evaluation, append it to eval.csv, keep the best generator."""
    from classifier.inference import load_classifier
    from generator.quality import evaluate_generator
    classifier = load_classifier(options["classifier"])
    real_paths = [p for p in images.paths if str(p) not in set(images.failed)]
    figures = evaluate_generator(wgan.generator, classifier, real_paths, options["view"],
                                 options["eval_samples"], seed=options["seed"],
                                 batch_size=options["batch"])
    folder.append_eval({"step": step, "epoch": epoch, **figures})
    fd = float(figures["fd_classifier"])
    text = ", ".join(f"{k} {float(v):.4g}" for k, v in figures.items())
    print(f"  evaluation: {text}", flush=True)
    if best is None or fd < best:
        folder.save_model(wgan.generator, "generator_best.keras")
        print(f"  best FD-classifier so far -> {folder.path / 'generator_best.keras'}", flush=True)
        return fd
    return best


def resolve_run_folder(options, sweep_keys=()):
    """The RunFolder for `options`: `out` if given, else models_dir/<run name>."""
    if options.get("out"):
        return RunFolder(options["out"])
    return RunFolder(Path(options["models_dir"]) / run_name(options, sweep_keys))


def train(options, sweep_keys=(), out=sys.stdout):
    """Train as `options` say; returns the RunFolder. Raises UsageError for bad input and
    TrainingDiverged when a loss stops being finite."""
    say = lambda text: print(text, file=out, flush=True)  # noqa: E731
    folder = resolve_run_folder(options, sweep_keys)
    if options["resume"]:
        if not folder.exists():
            raise UsageError(f"{folder.path}: no run to resume here (no options.json)")
        folder.check_resumable(options)
    elif folder.exists():
        raise UsageError(f"{folder.path}: a run already exists here; add --resume to continue "
                         f"it, or delete the folder to start again")
    check_image_size(options["image_size"])

    keras.utils.set_random_seed(options["seed"])
    policy = mixed_precision_policy(options["mixed_precision"])
    keras.mixed_precision.set_global_policy(policy)
    try:
        return _train(options, folder, say)
    finally:
        keras.mixed_precision.set_global_policy("float32")


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
    if not options["resume"]:
        folder.write_options(options)

    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    epoch_done = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
    seconds_done = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds")
    grid_count = options["grid"] ** 2
    fixed = np.random.default_rng(options["seed"]).standard_normal(
        (grid_count, options["latent_dim"])).astype(np.float32)
    fixed_latents = tf.Variable(fixed, trainable=False, name="fixed_latents")
    checkpoint = tf.train.Checkpoint(
        generator=wgan.generator, critic=wgan.critic,
        generator_optimizer=wgan.generator_optimizer, critic_optimizer=wgan.critic_optimizer,
        step=step, epoch=epoch_done, seconds=seconds_done, fixed_latents=fixed_latents)
    manager = tf.train.CheckpointManager(checkpoint, folder.checkpoints, CHECKPOINTS_KEPT)
    if options["resume"] and manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).expect_partial()
        say(f"resumed {folder.path} from {manager.latest_checkpoint}: epoch "
            f"{int(epoch_done.numpy())}, generator iteration {int(step.numpy())}")
    elif options["resume"]:
        say(f"resumed {folder.path}: no checkpoint yet, starting from the beginning")
    folder.start_metrics(int(step.numpy()))
    best_fd = _best_fd(folder)

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
            diverged = _not_finite(metrics, iteration, epoch, manager)
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
        grid = folder.save_grid(wgan.generator(fixed_latents, training=False).numpy(), epoch,
                                options["grid"])
        manager.save(checkpoint_number=epoch)
        folder.save_model(wgan.generator)
        folder.plot_losses()
        folder.write_gif()
        if bar:
            bar.close()
        mean = {k: np.mean([row[k] for row in rows]) for k in rows[0]}
        say(f"epoch {epoch}/{options['epochs']}  iteration {iteration}  "
            f"W {mean['wasserstein']:.4g}  critic real {mean['critic_loss_real']:.4g} "
            f"fake {mean['critic_loss_fake']:.4g}  generator {mean['generator_loss']:.4g}  "
            f"{steps_per_epoch * critic_images / elapsed:,.0f} img/s  {elapsed:.1f} s  -> {grid}")
        if options["classifier"] and (epoch % options["eval_every"] == 0
                                      or epoch == options["epochs"]):
            best_fd = _evaluate(options, wgan, folder, images, epoch, iteration, best_fd)
    return folder


def _best_fd(folder):
    values = [float(row["fd_classifier"]) for row in folder.read_csv(folder.eval_file)
              if row.get("fd_classifier")]
    return min(values) if values else None
