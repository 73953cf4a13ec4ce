"""Speed of the compiled WGAN step against the seed's training loop, on identical networks.

The seed trained with Keras calls per critic update: `critic.train_on_batch` on half a batch of
real images (fancy-indexed from one float32 array of the whole set), `generator.predict` for half
a batch of fakes, `critic.train_on_batch` on those, weight clipping by a kernel constraint; then
`gan.train_on_batch` for the generator. Ours (`generator.wgan.WGAN.train_step`) runs all
n_critic critic updates and the generator update in one tf.function, reading real batches from
the tf.data pipeline inside it.

Each round runs a matmul chain, a seed iteration and one of ours in turn, so a change in the
machine's load (it is shared) hits all three alike; medians over the rounds are reported.
Figures, per configuration (batch:n_critic):
  critic images/s   real + fake images through critic updates per second, over whole generator
                    iterations (the seed's critic sees batch/2 + batch/2 per update, ours batch +
                    batch), and the ratio ours / seed;
  GFLOP/s           the multiply-adds the iterations needed x 2 (forward 1x, backward 2x), and
                    our fastest iteration's as a share of the fastest matmul chain (float32,
                    or bfloat16 with --mixed-precision) measured between the iterations (the
                    practical peak right then).

  python benchmarks/wgan_speed.py                       # 64 px, DCGAN width 64, 8:2 and 64:5
  python benchmarks/wgan_speed.py --configs 64:5 --iterations 5 --jit
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cargen.cli import quiet_tensorflow, run_main

tf = quiet_tensorflow()
import keras  # noqa: E402

from generator.input import TrainingImages  # noqa: E402
from generator.networks import build_critic, build_generator, forward_flops  # noqa: E402
from generator.wgan import WGAN  # noqa: E402

LATENT_DIM = 100
CLIP = 0.01
LR = 5e-5


def matmul_peak(size=2048, repeats=4, dtype="float32"):
    """(function running a chain of large tf.matmuls in `dtype`, its FLOPs): the machine's
    practical peak is those FLOPs over the function's time."""
    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)

    @tf.function
    def chain(a, b):
        total = tf.zeros((), dtype)
        for _ in range(repeats):
            total += tf.reduce_sum(tf.matmul(a, b)[:1, :1])
            b = b + tf.cast(1e-3, dtype)
        return total

    chain(a, b).numpy()
    return lambda: chain(a, b).numpy(), 2 * size ** 3 * repeats


def write_pictures(folder, count, seed=0):
    """`count` 96x64 JPEGs of coloured boxes (cheap stand-ins for car photos)."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        pixels = np.full((64, 96, 3), rng.integers(120, 255, 3), np.uint8)
        top, left = rng.integers(8, 30), rng.integers(4, 40)
        pixels[top:top + 24, left:left + 50] = rng.integers(0, 120, 3)
        Image.fromarray(pixels).save(Path(folder) / f"car_{i:04d}.jpg", quality=90)


class ClipConstraint(keras.constraints.Constraint):
    """The seed's clipping: a kernel constraint applied after each optimizer update."""

    def __call__(self, weights):
        return keras.ops.clip(weights, -CLIP, CLIP)


def wasserstein_loss(y_true, y_pred):
    """The seed's loss: mean(label * score) with labels -1 real, +1 fake."""
    return keras.ops.mean(y_true * y_pred)


def seed_loop(images, image_size, width, batch, n_critic):
    """The seed's training iteration on our networks; returns a function running one."""
    generator = build_generator(LATENT_DIM, image_size, 3, width)
    critic = build_critic(image_size, 3, width)
    for variable in critic.trainable_variables:
        variable.constraint = ClipConstraint()
    critic.compile(optimizer=keras.optimizers.RMSprop(LR), loss=wasserstein_loss)
    critic.trainable = False
    gan = keras.Sequential([generator, critic])
    gan.compile(optimizer=keras.optimizers.RMSprop(LR), loss=wasserstein_loss)
    critic.trainable = True  # the critic's own updates (Keras reads the flag when it traces)
    half = batch // 2
    rng = np.random.default_rng(0)

    def iteration():
        for _ in range(n_critic):
            real = images[rng.integers(0, len(images), half)]
            critic.train_on_batch(real, -np.ones((half, 1), np.float32))
            fake = generator.predict(rng.standard_normal((half, LATENT_DIM)).astype(np.float32),
                                     verbose=0)
            critic.train_on_batch(fake, np.ones((half, 1), np.float32))
        critic.trainable = False
        gan.train_on_batch(rng.standard_normal((batch, LATENT_DIM)).astype(np.float32),
                           -np.ones((batch, 1), np.float32))
        critic.trainable = True

    flops = (n_critic * (half * forward_flops(generator) + batch * 3 * forward_flops(critic))
             + batch * (3 * forward_flops(generator) + 2 * forward_flops(critic)))
    return iteration, n_critic * batch, flops, critic


def our_step(training_images, image_size, width, batch, n_critic, jit):
    """Our compiled step on the same networks; returns a function running one iteration."""
    generator = build_generator(LATENT_DIM, image_size, 3, width)
    critic = build_critic(image_size, 3, width)
    wgan = WGAN(generator, critic, keras.optimizers.RMSprop(LR), keras.optimizers.RMSprop(LR),
                LATENT_DIM, n_critic=n_critic, jit=jit)
    wgan.build()
    iterator = iter(training_images.batches(batch, seed=0))

    def iteration():
        {k: float(v) for k, v in wgan.train_step(iterator).items()}

    flops = (n_critic * (batch * forward_flops(generator) + 2 * batch * 3 * forward_flops(critic))
             + batch * (3 * forward_flops(generator) + 2 * forward_flops(critic)))
    return iteration, n_critic * 2 * batch, flops, critic


def interleaved(functions, rounds, warmup=2):
    """Seconds of each function per call over `rounds` rounds that call each in turn (so a
    change in the machine's load hits all of them alike): a list of arrays."""
    for function in functions:
        for _ in range(warmup):
            function()
    times = [[] for _ in functions]
    for _ in range(rounds):
        for function, seconds in zip(functions, times):
            start = time.perf_counter()
            function()
            seconds.append(time.perf_counter() - start)
    return [np.array(seconds) for seconds in times]


def main(argv=None):
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image-size", type=int, default=64, help="pixels (default: 64)")
    parser.add_argument("--width", type=int, default=64, help="network width (default: 64)")
    parser.add_argument("--configs", default="8:2,64:5",
                        help="batch:n_critic pairs (default: %(default)s)")
    parser.add_argument("--iterations", type=int, default=5,
                        help="timed generator iterations per method (default: %(default)s)")
    parser.add_argument("--images", type=int, default=512,
                        help="pictures in the temporary folder (default: %(default)s)")
    parser.add_argument("--jit", action="store_true", help="XLA-compile our step")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="bfloat16 compute for ours (CPU), measured against a bfloat16 "
                             "matmul peak")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        write_pictures(folder, args.images)
        training_images = TrainingImages(folder, args.image_size, progress=False)
        array = np.concatenate([b.numpy() for b in training_images.cached.batch(256)])
        array = array.astype(np.float32) / 127.5 - 1.0  # the seed held the set like this
        print(f"{args.images} images at {args.image_size} px, width {args.width}, "
              f"{'XLA, ' if args.jit else ''}"
              f"{'bfloat16' if args.mixed_precision else 'float32'}; timing "
              f"{args.iterations} generator iterations per method after 2 warm-up")
        peak, peak_flops = matmul_peak(
            dtype="bfloat16" if args.mixed_precision else "float32")
        rows = []
        for config in args.configs.split(","):
            batch, n_critic = (int(v) for v in config.split(":"))
            seed_iteration, seed_images, seed_flops, _ = seed_loop(
                array, args.image_size, args.width, batch, n_critic)
            if args.mixed_precision:
                keras.mixed_precision.set_global_policy("mixed_bfloat16")
            ours_iteration, ours_images, ours_flops, critic = our_step(
                training_images, args.image_size, args.width, batch, n_critic, args.jit)
            keras.mixed_precision.set_global_policy("float32")
            peak_seconds, seed_seconds, ours_seconds = interleaved(
                [peak, seed_iteration, ours_iteration], args.iterations)
            seed_median, ours_median = np.median(seed_seconds), np.median(ours_seconds)
            rows.append((config, seed_images / seed_median, seed_flops / seed_median / 1e9,
                         ours_images / ours_median, ours_flops / ours_median / 1e9,
                         ours_flops / ours_seconds.min() / 1e9,
                         peak_flops / peak_seconds.min() / 1e9))
            clipped = max(float(tf.reduce_max(tf.abs(v))) for v in critic.trainable_variables)
            assert clipped <= CLIP + 1e-7, clipped
    print(f"img/s and GFLOP/s: medians over the rounds; peak: the fastest "
          f"{'bfloat16' if args.mixed_precision else 'float32'} 2048^2 matmul chain of the "
          f"rounds, against our fastest iteration")
    print(f"{'batch:n_critic':>14} {'seed img/s':>11} {'seed GFLOP/s':>13} {'ours img/s':>11} "
          f"{'ours GFLOP/s':>13} {'ours/seed':>9} {'ours best':>10} {'peak':>8} {'% peak':>7}")
    for config, seed_rate, seed_gflops, ours_rate, ours_gflops, ours_best, peak in rows:
        print(f"{config:>14} {seed_rate:>11,.0f} {seed_gflops:>13,.1f} {ours_rate:>11,.0f} "
              f"{ours_gflops:>13,.1f} {ours_rate / seed_rate:>8.2f}x {ours_best:>10,.1f} "
              f"{peak:>8,.1f} {100 * ours_best / peak:>6.0f}%")
    return 0


if __name__ == "__main__":
    run_main(main)
