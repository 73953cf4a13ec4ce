"""Loading a trained generator and drawing images from it: seeded latents, grids, latent walks.

A generator comes from a run folder (`options.json` + `generator_best.keras` or
`generator.keras`), a single `.keras` file, or a Keras 2 `.h5` file such as the 2021 cargen
`model_saved.h5` (rebuilt by `generator.legacy`). Every generator maps (N, latent_dim) standard
normal latents to (N, S, S, C) images in [-1, 1]; C is 3 (colour) or 1 (grayscale).
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cargen.aspect import restore_aspect
from cargen.cli import UsageError, quiet_tensorflow
from generator.pictures import to_uint8
from generator.run_folder import OPTIONS_FILE, RunFolder


@dataclass
class LoadedGenerator:
    """A generator model with its latent size, image size and channel count."""

    model: object
    latent_dim: int
    image_size: int
    channels: int
    path: Path = None
    options: dict = field(default_factory=dict)
    _fn: object = field(default=None, repr=False)

    @property
    def aspect(self):
        """Width / height to show the images at: the pictures' own when the generator was
        trained on stretched pictures (options.json `display_aspect`), else 1."""
        return float(self.options.get("display_aspect") or 1.0)

    def __call__(self, latents):
        """Images in [-1, 1] (numpy float32, (N, S, S, C)) for a batch of latents."""
        if self._fn is None:
            tf = quiet_tensorflow()
            model = self.model
            self._fn = tf.function(lambda z: model(z, training=False), reduce_retracing=True)
        return np.asarray(self._fn(np.asarray(latents, np.float32)))


def wrap_model(model, path=None, options=None):
    """Check a Keras generator's shapes and wrap it as a `LoadedGenerator`."""
    source = path or getattr(model, "name", "generator")
    try:
        in_shape, out_shape = tuple(model.input_shape), tuple(model.output_shape)
    except (AttributeError, ValueError):
        raise UsageError(f"{source}: not a single-input, single-output generator model") from None
    if len(in_shape) != 2 or len(out_shape) != 4 or out_shape[1] != out_shape[2] \
            or out_shape[3] not in (1, 3):
        raise UsageError(f"{source}: expected latents (N, latent_dim) -> images (N, S, S, 1 or 3),"
                         f" the model maps {in_shape} -> {out_shape}")
    generator = LoadedGenerator(model, int(in_shape[1]), int(out_shape[1]), int(out_shape[3]),
                                Path(path) if path else None, dict(options or {}))
    for key, actual in (("latent_dim", generator.latent_dim),
                        ("image_size", generator.image_size), ("channels", generator.channels)):
        if key in generator.options and int(generator.options[key]) != actual:
            raise UsageError(f"{source}: {OPTIONS_FILE} says {key}={generator.options[key]} "
                             f"but the model has {actual}")
    return generator


def as_generator(generator):
    """A `LoadedGenerator` from either a `LoadedGenerator` or a Keras generator model."""
    return generator if isinstance(generator, LoadedGenerator) else wrap_model(generator)


def resolve_model_file(path, prefer_best=True):
    """The model file for `path`: a run folder's best (else last) generator, or the file."""
    path = Path(path)
    if path.is_dir():
        return RunFolder(path).model_file(prefer_best)
    if not path.exists():
        raise FileNotFoundError(f"{path}: not found")
    if path.suffix.lower() not in (".keras", ".h5", ".hdf5"):
        raise UsageError(f"{path}: expected a run folder, a .keras file or a legacy .h5 file")
    return path


def load_generator(path, prefer_best=True):
    """Load a generator from a run folder, a `.keras` file or a Keras 2 `.h5` file.

    In a run folder `generator_best.keras` (best by FD-classifier) is used when it exists and
    `prefer_best` is set, else `generator.keras`.
    """
    model_file = resolve_model_file(path, prefer_best)
    options = RunFolder(model_file.parent).read_options(missing_ok=True)
    quiet_tensorflow()
    if model_file.suffix.lower() == ".keras":
        import keras
        try:
            model = keras.models.load_model(model_file, compile=False)
        except Exception as error:  # Keras raises many types for a bad file; all mean the same
            first = str(error).splitlines()[0] if str(error) else ""
            raise UsageError(f"{model_file}: cannot load the model "
                             f"({type(error).__name__}: {first})") from None
    else:
        from generator.legacy import load_legacy_h5
        model = load_legacy_h5(model_file)
        options = {}
    return wrap_model(model, model_file, options)


def sample_latents(n, latent_dim, seed=0):
    """`n` standard-normal latent vectors (float32), the same for the same seed."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim)).astype(np.float32)


def generate_images(generator, latents, batch_size=256):
    """Images as uint8 (N, S, S, C) for `latents`, generated in batches."""
    generator = as_generator(generator)
    parts = [to_uint8(generator(latents[start:start + batch_size]))
             for start in range(0, len(latents), batch_size)]
    if not parts:
        return np.zeros((0, generator.image_size, generator.image_size, generator.channels),
                        np.uint8)
    return np.concatenate(parts)


def generate_pictures(generator, latents, batch_size=256):
    """Images as uint8 for `latents`, shown in the generator's pictures' shape (see
    `cargen.aspect.restore_aspect`): what is written for people to look at."""
    generator = as_generator(generator)
    return restore_aspect(generate_images(generator, latents, batch_size), generator.aspect)


def slerp(a, b, t):
    """Spherical interpolation between latent batches `a` and `b` (rows) at fraction `t`.

    Gaussian latents concentrate near a sphere; slerp stays near it (a straight line would
    pass through the low-norm middle, where a generator makes dull, washed-out images).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    unit_a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    unit_b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    dot = np.clip(np.sum(unit_a * unit_b, axis=-1, keepdims=True), -1.0, 1.0)
    omega = np.arccos(dot)
    sin_omega = np.sin(omega)
    small = sin_omega < 1e-6
    safe = np.where(small, 1.0, sin_omega)
    out = np.where(small, (1 - t) * a + t * b,
                   (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / safe)
    return out.astype(np.float32)


def latent_walk(n_walks, latent_dim, steps, keyframes=4, seed=0):
    """Latents for `n_walks` parallel closed walks: (frames, n_walks, latent_dim).

    Each walk visits `keyframes` random latents, `steps` frames from one to the next by
    slerp, and returns to its start so that the animation loops without a jump.
    """
    points = sample_latents(keyframes * n_walks, latent_dim, seed).reshape(
        keyframes, n_walks, latent_dim)
    frames = []
    for k in range(keyframes):
        start, end = points[k], points[(k + 1) % keyframes]
        for step in range(steps):
            frames.append(slerp(start, end, step / steps))
    return np.stack(frames)
