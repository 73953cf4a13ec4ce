"""Small generator models and run folders for the generator tests (seconds to build)."""

import json

from cargen.cli import quiet_tensorflow


def build_tiny_generator(latent_dim=8, image_size=32, channels=3, seed=0, collapsed=False):
    """An untrained generator following the run-folder contract: (N, latent_dim) -> tanh images.

    Its weights are large enough that different latents give clearly different images.
    `collapsed` zeroes the dense kernel, so every latent gives the same image (mode collapse).
    """
    quiet_tensorflow()
    import keras
    from keras import layers
    keras.utils.set_random_seed(seed)
    init = keras.initializers.RandomNormal(0.0, 0.3)
    base = image_size // 4
    dense_init = "zeros" if collapsed else init
    return keras.Sequential([
        keras.Input((latent_dim,)),
        layers.Dense(base * base * 8, kernel_initializer=dense_init, bias_initializer=init),
        layers.LeakyReLU(0.2),
        layers.Reshape((base, base, 8)),
        layers.Conv2DTranspose(8, 4, strides=2, padding="same", kernel_initializer=init),
        layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(channels, 4, strides=2, padding="same", activation="tanh",
                               kernel_initializer=init),
    ])


def write_generator_run(run_dir, model, view="front_left", best=None, fit="pad",
                        display_aspect=1.0):
    """Save `model` as a generator run folder (options.json + generator.keras [+ best])."""
    run_dir.mkdir(parents=True, exist_ok=True)
    _, size, _, channels = model.output_shape
    options = {"latent_dim": model.input_shape[1], "image_size": size, "channels": channels,
               "view": view, "loss": "wgan-gp", "fit": fit, "data": "tests",
               "display_aspect": display_aspect}
    (run_dir / "options.json").write_text(json.dumps(options))
    model.save(run_dir / "generator.keras")
    if best is not None:
        best.save(run_dir / "generator_best.keras")
    return run_dir
