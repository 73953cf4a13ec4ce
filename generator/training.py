"""Training a WGAN on one view folder, or one for many views, into a run folder: set-up,
resume, the epoch loop.

The loop runs the compiled `WGAN.train_step` and hands every step's and epoch's logs to the
`generator.callbacks` (a `keras.callbacks.CallbackList`), which do all per-epoch work.

`train(options)` does everything `generator/train_wgan.py` promises; `options` is a dict with
the script's option names (see `train_wgan.py --help`). An epoch is ceil(images / batch)
generator iterations (the seed's definition), unless `steps_per_epoch` is given. With
`views_asked` (a list of views) one conditional generator learns every view folder of
`data_root` (see `generator.conditional_input`); its grids have one row per view.
"""

import math
import sys
import time
from pathlib import Path

import numpy as np

from cargen.aspect import display_aspect
from cargen.cli import UsageError, quiet_tensorflow
from generator.run_folder import RunFolder, run_name

tf = quiet_tensorflow()
import keras  # noqa: E402  (after quiet_tensorflow)

from generator.callbacks import (  # noqa: E402
    EpochReport,
    Evaluation,
    MetricsLog,
    ProgressPictures,
    SampleGrid,
    SaveCheckpoint,
    SaveGenerator,
    StopWhenNotFinite,
    TensorBoardLog,
)
from generator.input import TrainingImages, check_image_size  # noqa: E402
from generator.networks import (  # noqa: E402
    build_conditional_generator,
    build_critic,
    build_generator,
    build_projection_critic,
)
from generator.wgan import LOSSES, WGAN  # noqa: E402

CHECKPOINTS_KEPT = 3
DEFAULT_LR = {"wgan": 5e-5, "wgan-gp": 1e-4}


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


def build_wgan(options, strategy=None, views=None):
    """Networks, optimizers and the WGAN for `options` (under `strategy`'s scope); with
    `views`, the conditional networks of those views."""
    scope = strategy.scope() if strategy else tf.distribute.get_strategy().scope()
    size, channels, width = options["image_size"], options["channels"], options["width"]
    normalization = "batch" if options["loss"] == "wgan" else "layer"
    with scope:
        if views:
            generator = build_conditional_generator(
                options["latent_dim"], len(views), size, channels, width,
                conditioning=options.get("conditioning", "input"))
            critic = build_projection_critic(len(views), size, channels, width, normalization)
        else:
            generator = build_generator(options["latent_dim"], size, channels, width)
            critic = build_critic(size, channels, width, normalization)
        generator_optimizer, critic_optimizer = _optimizers(
            options, keras.mixed_precision.global_policy().name)
        wgan = WGAN(generator, critic, generator_optimizer, critic_optimizer,
                    options["latent_dim"], loss=options["loss"], n_critic=options["n_critic"],
                    clip_value=options["clip_value"], gp_weight=options["gp_weight"],
                    strategy=strategy, jit=options["jit"], ema=options.get("ema", 0.0),
                    views=views)
        wgan.build()
    return wgan


def resolve_run_folder(options, sweep_keys=()):
    """The RunFolder for `options`: `out` if given, else models_dir/<run name>."""
    if options.get("out"):
        return RunFolder(options["out"])
    return RunFolder(Path(options["models_dir"]) / run_name(options, sweep_keys))


def train(options, sweep_keys=(), out=None):
    """Train as `options` say, printing progress to `out` (default: sys.stdout at the time of
    the call); returns the RunFolder. Raises UsageError for bad input and TrainingDiverged when
    a loss stops being finite."""
    out = out or sys.stdout
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
    iterations and epochs done, training seconds, and the fixed latents of the grids (a
    conditional run's: one row of `grid`, drawn for every view)."""
    count = options["grid"] if options.get("views_asked") else options["grid"] ** 2
    fixed = np.random.default_rng(options["seed"]).standard_normal(
        (count, options["latent_dim"])).astype(np.float32)
    return {"step": tf.Variable(0, dtype=tf.int64, trainable=False, name="step"),
            "epoch": tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch"),
            "seconds": tf.Variable(0.0, dtype=tf.float64, trainable=False, name="seconds"),
            "fixed_latents": tf.Variable(fixed, trainable=False, name="fixed_latents")}


def _training_images(options, folder, say):
    """The input of the run: `TrainingImages` of one folder, or the `ViewImages` of a
    conditional run (whose trained views are recorded as options["views"], and must be the
    same on resume)."""
    if not options.get("views_asked"):
        return TrainingImages(options["data"], options["image_size"], options["channels"],
                              options["fit"], cache_file=options["cache"],
                              progress=options["progress"])
    from generator.conditional_input import ViewImages
    images = ViewImages(options["data"], options["views_asked"], options["image_size"],
                        options["channels"], options["fit"], cache_file=options["cache"],
                        progress=options["progress"], without=options.get("without") or ())
    for line in images.report():
        say(line)
    saved = folder.read_options().get("views") if options["resume"] else None
    if saved is not None and saved != images.views:
        raise UsageError(f"{folder.options_file}: the run was trained on the views "
                         f"{', '.join(saved)}; the photos now give {', '.join(images.views)}")
    options["views"] = images.views
    return images


def _train(options, folder, say):
    images = _training_images(options, folder, say)
    if images.failed:
        say(f"skipped {len(images.failed)} unreadable file(s), e.g. {images.failed[0]}")
    strategy = make_strategy(options["strategy"])
    batch = options["batch"]
    replicas = strategy.num_replicas_in_sync if strategy else 1
    if batch % replicas:
        raise UsageError(f"--batch-size {batch} must be a multiple of the {replicas} replicas")
    steps_per_epoch = options["steps_per_epoch"] or math.ceil(images.count / batch)
    wgan = build_wgan(options, strategy, options.get("views"))
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
    step = state["step"]
    folder.start_metrics(int(step.numpy()))
    critic_images = batch * options["n_critic"]
    metrics_log = MetricsLog(folder)
    callbacks = [metrics_log, StopWhenNotFinite(metrics_log, manager, options["loss"]),
                 SampleGrid(folder, wgan, state["fixed_latents"], options["grid"],
                            options["display_aspect"], options.get("views")),
                 SaveCheckpoint(manager), SaveGenerator(folder, wgan), ProgressPictures(folder),
                 EpochReport(folder, critic_images, say, options["progress"])]
    if options["classifier"]:
        callbacks.append(Evaluation(options, folder, images, wgan, say))
    callbacks.append(TensorBoardLog(folder))
    callbacks = keras.callbacks.CallbackList(callbacks, epochs=options["epochs"],
                                             steps=steps_per_epoch)

    dataset = images.batches(batch, seed=options["seed"] + int(step.numpy()))
    if strategy:
        dataset = strategy.experimental_distribute_dataset(dataset)
    iterator = iter(dataset)
    first_epoch = int(state["epoch"].numpy()) + 1
    if first_epoch > options["epochs"]:
        say(f"{folder.path}: already trained for {first_epoch - 1} epochs "
            f"(--epochs {options['epochs']}); nothing to do")
    callbacks.on_train_begin()
    for epoch in range(first_epoch, options["epochs"] + 1):
        callbacks.on_epoch_begin(epoch)
        elapsed = _train_epoch(wgan, iterator, epoch, state, callbacks, critic_images)
        callbacks.on_epoch_end(epoch, {"step": int(step.numpy()), "seconds": elapsed,
                                       "images_per_second": steps_per_epoch * critic_images
                                       / elapsed})
        if (options.get("minutes") and epoch < options["epochs"]
                and float(state["seconds"].numpy()) >= 60 * options["minutes"]):
            say(f"stopped after epoch {epoch}: {options['minutes']:g} minutes of training "
                f"(--minutes) reached")
            break
    callbacks.on_train_end()
    return folder


def _train_epoch(wgan, iterator, epoch, state, callbacks, critic_images):
    """Run the epoch's generator iterations (`critic_images` real images each), each followed
    by the callbacks' batch work, then count them in the checkpointed `state`; returns the
    epoch's seconds."""
    iteration, seconds_before = int(state["step"].numpy()), float(state["seconds"].numpy())
    start = time.perf_counter()
    for batch in range(callbacks.params["steps"]):
        tick = time.perf_counter()
        logs = {k: float(v) for k, v in wgan.train_step(iterator).items()}
        seconds = time.perf_counter() - tick
        iteration += 1
        logs.update(step=iteration, images_per_second=round(critic_images / seconds, 2),
                    seconds=round(seconds_before + time.perf_counter() - start, 3))
        callbacks.on_train_batch_end(batch, logs)
    elapsed = time.perf_counter() - start
    state["seconds"].assign_add(elapsed)
    state["epoch"].assign(epoch)
    state["step"].assign(iteration)
    return elapsed
