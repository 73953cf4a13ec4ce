"""Loading a trained generator and drawing images from it: seeded latents, grids, latent walks.

A generator comes from a run folder (`options.json` + `generator_best.keras` or
`generator.keras`), a single `.keras` file, or a Keras 2 `.h5` file such as the 2021 cargen
`model_saved.h5` (rebuilt by `generator.legacy`). Every generator maps (N, latent_dim) standard
normal latents to (N, S, S, C) images in [-1, 1]; C is 3 (colour) or 1 (grayscale).
"""

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cargen.aspect import restore_aspect
from cargen.cli import UsageError, quiet_tensorflow
from cargen.safe_files import replace_atomically

OPTIONS_FILE = "options.json"
GENERATOR_FILE = "generator.keras"
BEST_GENERATOR_FILE = "generator_best.keras"


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


def _read_options(folder):
    path = Path(folder) / OPTIONS_FILE
    if not path.is_file():
        return {}
    try:
        options = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{path}: unreadable ({error})") from None
    if not isinstance(options, dict):
        raise UsageError(f"{path}: not a JSON object")
    return options


def resolve_model_file(path, prefer_best=True):
    """The model file for `path`: a run folder's best (else last) generator, or the file."""
    path = Path(path)
    if path.is_dir():
        names = [BEST_GENERATOR_FILE, GENERATOR_FILE] if prefer_best else [GENERATOR_FILE]
        for name in names:
            if (path / name).is_file():
                return path / name
        raise UsageError(f"{path}: no {GENERATOR_FILE} in this folder (not a generator run "
                         "folder, or training has not saved a model yet)")
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
    options = _read_options(model_file.parent)
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


def to_uint8(images):
    """Map generator output in [-1, 1] to uint8 [0, 255] (values outside are clipped)."""
    return np.clip((np.asarray(images, np.float32) + 1.0) * 127.5 + 0.5, 0, 255).astype(np.uint8)


def to_rgb(images):
    """uint8 (N, S, S, 1 or 3) images as RGB (a grayscale channel is repeated)."""
    return np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images


def grid_scale(image_size, min_cell=96):
    """Integer upscale factor so that each grid cell is at least `min_cell` pixels wide."""
    return max(1, math.ceil(min_cell / image_size))


def image_grid(images, columns=None, padding=2, scale=1, background=48):
    """Tile uint8 (N, H, W, C) images into one uint8 image, `columns` wide (default: square).

    Each image is enlarged `scale` times by pixel repetition, so no detail is invented.
    """
    images = np.asarray(images)
    if scale > 1:
        images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    n, height, width, channels = images.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / columns))
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding,
                    channels), background, np.uint8)
    for index, image in enumerate(images):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top:top + height, left:left + width] = image
    return grid


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


def save_png(image, path):
    """Write a uint8 (H, W, 1 or 3) image as PNG, atomically (never a half-written file)."""
    from PIL import Image
    array = image[..., 0] if image.shape[-1] == 1 else image
    return replace_atomically(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def save_gif(frames, path, fps=12, shared_palette=True):
    """Write uint8 frames (F, H, W, C) as a looping GIF, atomically.

    With `shared_palette` all frames share one 256-colour palette taken from a sample of them,
    without dithering, so colours do not flicker from frame to frame (a walk through latent
    space); otherwise each frame gets its own (frames that change a lot, such as training
    progress). Frames arrive at imageio's writer with at most 256 colours already, which makes
    it ~7x faster than letting it build median-cut palettes.
    """
    from PIL import Image
    frames = to_rgb(np.asarray(frames))
    if shared_palette:
        sample = frames[::max(1, len(frames) // 8)]
        palette = Image.fromarray(np.concatenate(sample, axis=0)).quantize(
            256, method=Image.Quantize.FASTOCTREE)
        images = [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
                  for frame in frames]
    else:
        images = [Image.fromarray(frame).quantize(256, method=Image.Quantize.FASTOCTREE)
                  for frame in frames]
    import imageio.v3 as iio
    frames = np.stack([np.asarray(image.convert("RGB")) for image in images])
    return replace_atomically(path, lambda tmp: iio.imwrite(tmp, frames, extension=".gif",
                                                 duration=round(1000 / fps), loop=0))
