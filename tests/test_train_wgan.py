"""generator/train_wgan.py: a short real training run on tiny pictures writes every output of
the run folder with finite numbers; a killed run resumes where its last checkpoint left off; a
sweep reports its failing configuration and trains the others; two CPU devices train under
MirroredStrategy; bad input gives one-line errors."""

import csv
import json
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from in_process import run_in_process
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
SCRIPT = "generator/train_wgan.py"
TINY = ["--image-size", "32", "--width", "8", "--latent-dim", "8", "--batch-size", "8",
        "--n-critic", "2", "--no-progress"]


def make_pictures(folder, count, seed=0, size=(48, 28)):
    """`count` small wide pictures of a coloured 'car' box on a plain background, plus one
    corrupt file."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(150, 255, 3)))
        draw = ImageDraw.Draw(image)
        left = int(rng.integers(2, 10))
        draw.rectangle([left, 10, left + 30, 22], fill=tuple(int(c) for c in rng.integers(0, 120, 3)))
        draw.ellipse([left + 3, 18, left + 10, 25], fill=(20, 20, 20))
        draw.ellipse([left + 21, 18, left + 28, 25], fill=(20, 20, 20))
        image.save(folder / f"car_{i:02d}.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    return folder


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """A front_left folder of 20 pictures and one corrupt file."""
    return make_pictures(tmp_path_factory.mktemp("pictures") / "front_left", 20)


def run(*args):
    """Run the training script's main in this process; returns the CompletedProcess."""
    return run_in_process(SCRIPT, *args)


def run_script(*args, timeout=120):
    """Run the training script in a new Python process; returns the CompletedProcess (text
    output)."""
    return subprocess.run([sys.executable, SCRIPT, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def metrics(run_dir, name="metrics.csv"):
    with open(Path(run_dir) / name, newline="") as handle:
        return list(csv.DictReader(handle))


def test_short_run_writes_every_output(pictures, tmp_path, tiny_classifier_run):
    result = run_script("--data", pictures, *TINY, "--epochs", "2", "--models-dir", tmp_path,
                        "--classifier", tiny_classifier_run, "--eval-every", "1",
                        "--eval-samples", "16")
    assert result.returncode == 0, result.stderr
    run_dir = tmp_path / "front_left_wgan_32px_z8_b8_nc2"
    assert "skipped 1 unreadable file" in result.stdout
    assert "epoch 2/2" in result.stdout and str(run_dir) in result.stdout

    options = json.loads((run_dir / "options.json").read_text())
    assert options["view"] == "front_left" and options["loss"] == "wgan"
    assert (options["latent_dim"], options["image_size"], options["channels"]) == (8, 32, 3)
    assert options["lr"] == 5e-5 and options["clip_value"] == 0.01
    assert options["fit"] == "stretch" and options["display_aspect"] == round(48 / 28, 4)

    rows = metrics(run_dir)
    assert [int(r["step"]) for r in rows] == list(range(1, 7))  # 2 epochs of ceil(20 / 8)
    for row in rows:
        assert all(math.isfinite(float(row[k])) for k in row)
    assert float(rows[-1]["images_per_second"]) > 0

    for epoch in (1, 2):
        grid = Image.open(run_dir / "images" / f"generated_plot_{epoch:04d}.png")
        assert grid.mode == "RGB" and grid.height > 5 * 32
        assert grid.size == (2 + 5 * (4 * 55 + 2), 2 + 5 * (4 * 32 + 2))  # 32 px shown 55 x 32
    gif = Image.open(run_dir / "progress.gif")
    assert gif.n_frames == 2
    assert Image.open(run_dir / "loss_plot.png").width > 300
    assert (run_dir / "checkpoints" / "checkpoint").exists()

    evaluations = metrics(run_dir, "eval.csv")
    assert [int(r["epoch"]) for r in evaluations] == [1, 2]
    assert all(math.isfinite(float(evaluations[-1][k])) for k in
               ("view_fidelity", "fd_classifier", "kid", "diversity"))
    assert (run_dir / "generator_best.keras").exists()

    import keras
    generator = keras.saving.load_model(run_dir / "generator.keras")
    images = np.asarray(generator(np.random.default_rng(0).standard_normal((3, 8), np.float32)))
    assert images.shape == (3, 32, 32, 3)
    assert images.min() >= -1 and images.max() <= 1 and images.std() > 0


@pytest.fixture(scope="module")
def stopped_padded_run(pictures, tmp_path_factory):
    """A run on padded pictures with 2x2 grids that --minutes stops after the first of its 50
    epochs of 2 iterations; (run folder, CompletedProcess)."""
    run_dir = tmp_path_factory.mktemp("stopped") / "run"
    result = run("--data", pictures, *TINY, "--epochs", "50", "--steps-per-epoch", "2",
                 "--fit", "pad", "--grid", "2", "--out", run_dir, "--minutes", "0.0001")
    assert result.returncode == 0, result.stderr
    return run_dir, result


def test_padded_pictures_are_shown_as_the_squares_they_were_trained_on(stopped_padded_run):
    run_dir, _ = stopped_padded_run
    assert json.loads((run_dir / "options.json").read_text())["display_aspect"] == 1.0
    grid = Image.open(run_dir / "images" / "generated_plot_0001.png")
    assert grid.size == (2 + 2 * (4 * 32 + 2),) * 2


def test_killed_run_resumes_from_its_last_checkpoint(pictures, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--data", pictures, *TINY, "--steps-per-epoch", "20", "--epochs", "3",
            "--out", run_dir]
    process = subprocess.Popen([sys.executable, SCRIPT, *map(str, args)], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 90
    while not (run_dir / "checkpoints" / "ckpt-1.index").exists():
        assert process.poll() is None and time.monotonic() < deadline, "no first checkpoint"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = len(metrics(run_dir))
    assert killed_at >= 20

    result = run(*args, "--resume")
    assert result.returncode == 0, result.stderr
    assert "resumed" in result.stdout
    steps = [int(r["step"]) for r in metrics(run_dir)]
    assert steps == list(range(1, 61))  # no gap, no repeated row
    assert sorted(p.name for p in (run_dir / "images").iterdir())[-1] == "generated_plot_0003.png"

    again = run(*args[:-2], "--batch-size", "16", "--out", run_dir, "--resume")
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "--batch-size 8 (given 16)" in again.stderr


def test_sweep_reports_a_failing_configuration_and_trains_the_others(pictures, tmp_path):
    result = run("--data", pictures, *TINY, "--epochs", "1", "--models-dir", tmp_path,
                 "--sweep", "loss=wgan-gp,hinge")
    assert result.returncode == 1
    assert "1 of 2 configurations trained" in result.stdout
    assert "failed: loss=hinge - UsageError: loss must be one of wgan, wgan-gp" in result.stdout
    run_dir = tmp_path / "front_left_wgan-gp_32px_z8_b8_nc2"
    assert (run_dir / "generator.keras").exists()
    rows = metrics(run_dir)
    assert all(float(r["gradient_penalty"]) > 0 for r in rows)
    assert json.loads((run_dir / "options.json").read_text())["lr"] == 1e-4


def test_mirrored_strategy_on_two_cpu_devices(pictures, tmp_path):
    # A new process: the CPU is split into two devices before TensorFlow starts.
    result = run_script("--data", pictures, *TINY, "--epochs", "1", "--out", tmp_path / "run",
                        "--strategy", "mirrored", "--cpu-replicas", "2")
    assert result.returncode == 0, result.stderr
    assert "2 replicas" in result.stdout
    assert all(math.isfinite(float(r["wasserstein"])) for r in metrics(tmp_path / "run"))
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(tmp_path / "run" / "checkpoints"))
    critic = [name for name in reader.get_variable_to_shape_map()
              if name.startswith("critic_optimizer/_trainable_variables/")]
    assert critic
    assert max(np.abs(reader.get_tensor(name)).max() for name in critic) <= 0.01 + 1e-7


def test_diverging_losses_stop_with_a_clear_message(pictures, tmp_path):
    result = run("--data", pictures, *TINY, "--epochs", "2", "--out", tmp_path / "run",
                 "--learning-rate", "1e30")
    assert result.returncode == 1
    assert "not finite" in result.stderr and "last good checkpoint" in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "nan" in metrics(tmp_path / "run")[-1]["wasserstein"]


def test_bad_input(tmp_path):
    missing = run("--data", tmp_path / "nowhere" / "front_left", *TINY)
    assert missing.returncode == 2 and missing.stderr.startswith("error: ")
    assert "no such folder" in missing.stderr and missing.stderr.count("\n") == 1

    (tmp_path / "empty" / "front_left").mkdir(parents=True)
    empty = run("--data", tmp_path / "empty" / "front_left", *TINY)
    assert empty.returncode == 2 and "no images" in empty.stderr

    bad_size = run("--data", tmp_path / "empty" / "front_left", *TINY[2:], "--image-size", "48")
    assert bad_size.returncode == 2 and "power of two" in bad_size.stderr

    few = make_pictures(tmp_path / "few" / "front_left", 3, size=(12, 8))
    result = run("--data", few, *TINY, "--epochs", "1", "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "warning:" in result.stderr and "fewer than a batch of 8" in result.stderr
    assert "smaller than 16 px" in result.stderr and "12x8" in result.stderr
    assert len(metrics(tmp_path / "run")) == 1


def test_bfloat16_only_on_cpus_that_have_it(tmp_path):
    from generator.training import cpu_has_bfloat16
    with_bf16, without = tmp_path / "a", tmp_path / "b"
    with_bf16.write_text("flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni\n")
    without.write_text("flags\t\t: fpu sse avx2 avx512f\n")
    assert cpu_has_bfloat16(with_bf16) and not cpu_has_bfloat16(without)
    assert not cpu_has_bfloat16(tmp_path / "missing")


def test_ema_generator_averages_the_weights_and_resumes(pictures, tmp_path):
    run_dir = tmp_path / "ema"
    args = ["--data", pictures, *TINY, "--steps-per-epoch", "5", "--out", run_dir,
            "--ema", "0.99"]
    assert run(*args, "--epochs", "1").returncode == 0
    result = run(*args, "--epochs", "2", "--resume")
    assert result.returncode == 0, result.stderr
    assert "generator iteration 5" in result.stdout
    assert [int(r["step"]) for r in metrics(run_dir)] == list(range(1, 11))
    refused = run(*args[:-2], "--epochs", "3", "--resume")
    assert refused.returncode == 2 and "--ema 0.99 (given 0.0)" in refused.stderr

    import keras

    from generator.networks import build_critic, build_generator
    from generator.wgan import WGAN
    generator, critic = build_generator(8, 16, 3, 4), build_critic(16, 3, 4, "layer")
    wgan = WGAN(generator, critic, keras.optimizers.Adam(1e-2), keras.optimizers.Adam(1e-2), 8,
                loss="wgan-gp", n_critic=1, ema=0.9)
    wgan.build()
    start = [w.copy() for w in generator.get_weights()]
    real = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    iterator = iter(__import__("tensorflow").data.Dataset.from_tensors(real).repeat())
    for _ in range(3):
        wgan.train_step(iterator)
    kernel = 0  # the dense layer's kernel
    raw, average = generator.weights[kernel].numpy(), wgan.sampler.weights[kernel].numpy()
    assert wgan.sampler is not generator and not np.allclose(raw, start[kernel])
    assert 0 < np.abs(average - start[kernel]).mean() < np.abs(raw - start[kernel]).mean()


def test_averaged_generator_batch_norm_statistics_are_measured_on_its_own_weights():
    import keras
    import tensorflow as tf

    from generator.networks import build_critic, build_generator
    from generator.wgan import WGAN
    generator = build_generator(8, 16, 3, 4)
    wgan = WGAN(generator, build_critic(16, 3, 4, "layer"), keras.optimizers.Adam(1e-2),
                keras.optimizers.Adam(1e-2), 8, loss="wgan-gp", n_critic=1, ema=0.9)
    wgan.build()
    real = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    iterator = iter(tf.data.Dataset.from_tensors(real).repeat())
    for _ in range(3):
        wgan.train_step(iterator)
    sampler = wgan.sampler
    norms = [layer for layer in sampler.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    # the first batch norm follows the dense layer: its input is a plain function of the latents
    dense = keras.Model(sampler.inputs, norms[0].input)
    x = dense(tf.random.normal((4096, 8))).numpy().reshape(-1, norms[0].moving_mean.shape[0])
    assert np.allclose(norms[0].moving_mean.numpy(), x.mean(0), atol=0.1 * x.std(0).mean())
    assert np.allclose(norms[0].moving_variance.numpy(), x.var(0), rtol=0.2)
    measured = [layer.moving_variance.numpy().copy() for layer in norms]
    assert wgan.sampler is sampler  # no training step since: not measured again
    assert all(np.array_equal(m, layer.moving_variance.numpy())
               for m, layer in zip(measured, norms))
    raw = [layer for layer in generator.layers
           if isinstance(layer, keras.layers.BatchNormalization)]
    assert not np.allclose(raw[-1].moving_variance.numpy(), norms[-1].moving_variance.numpy())


def test_critic_scores_real_and_fake_in_one_call_only_without_batch_norm():
    import keras

    from generator.networks import build_critic, build_generator
    from generator.wgan import WGAN
    rng = np.random.default_rng(0)
    real, fake = (rng.uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32) for _ in range(2))
    for normalization, one_call in (("layer", True), ("batch", False)):
        critic = build_critic(16, 3, 4, normalization)
        wgan = WGAN(build_generator(8, 16, 3, 4), critic, keras.optimizers.Adam(),
                    keras.optimizers.Adam(), 8)
        assert wgan.mixes_samples is not one_call
        real_score, fake_score = wgan._scores(real, fake)
        separate = [float(np.mean(critic(x, training=True))) for x in (real, fake)]
        assert np.allclose([float(real_score), float(fake_score)], separate, atol=1e-5)


def test_minutes_stop_a_run_and_tensorboard_gets_its_events(stopped_padded_run):
    run_dir, result = stopped_padded_run
    assert "stopped after epoch 1" in result.stdout
    assert len(metrics(run_dir)) == 2
    assert Image.open(run_dir / "progress.gif").n_frames == 1  # drawn at the stop
    import tensorflow as tf
    events = list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    logged = {event.step: float(tf.make_ndarray(value.tensor))
              for path in events for event in tf.compat.v1.train.summary_iterator(str(path))
              for value in event.summary.value if value.tag == "wasserstein"}
    rows = metrics(run_dir)
    assert logged == pytest.approx({int(r["step"]): float(r["wasserstein"]) for r in rows})
