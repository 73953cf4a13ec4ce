"""Loading a trained generator and drawing images from it: seeded latents, grids, latent walks.

A generator comes from a run folder (`options.json` + `generator_best.keras` or
`generator.keras`), a single `.keras` file, or a Keras 2 `.h5` file such as the 2021 cargen
`model_saved.h5` (rebuilt by `generator.legacy`). Every generator maps (N, latent_dim) standard
normal latents to (N, S, S, C) images in [-1, 1]; C is 3 (colour) or 1 (grayscale). A
conditional generator (one for many views; options.json lists them as `views`) takes
[latents, view ids] instead, a view id being the view's index in that list.
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
    views: list = None  # a conditional generator's views, in view-id order
    _fn: object = field(default=None, repr=False)

    def view_id(self, view):
        """The id of `view` for a conditional generator; UsageError when it draws no such view
        (or, for a one-view generator, when `view` is not its view)."""
        if self.views is None:
            own = self.options.get("view")
            if own and view != own:
                raise UsageError(f"{self.path}: a generator of the one view {own}, not {view}")
            return None
        if view not in self.views:
            raise UsageError(f"{self.path}: the generator draws the views "
                             f"{', '.join(self.views)}, not {view!r}")
        return self.views.index(view)

    @property
    def aspect(self):
        """Width / height to show the images at: the pictures' own when the generator was
        trained on stretched pictures (options.json `display_aspect`), else 1."""
        return float(self.options.get("display_aspect") or 1.0)

    def __call__(self, latents, view_ids=None):
        """Images in [-1, 1] (numpy float32, (N, S, S, C)) for a batch of latents (and, for a
        conditional generator, their view ids: one int, or one per latent)."""
        if self._fn is None:
            tf = quiet_tensorflow()
            model = self.model
            self._fn = tf.function(lambda inputs: model(inputs, training=False),
                                   reduce_retracing=True)
        latents = np.asarray(latents, np.float32)
        if self.views is None:
            return np.asarray(self._fn(latents))
        if view_ids is None:
            raise UsageError(f"{self.path}: a generator of the views {', '.join(self.views)}: "
                             "say which view to draw")
        view_ids = np.broadcast_to(np.asarray(view_ids, np.int32), (len(latents),))
        return np.asarray(self._fn([latents, view_ids]))


def wrap_model(model, path=None, options=None):
    """Check a Keras generator's shapes and wrap it as a `LoadedGenerator`."""
    source = path or getattr(model, "name", "generator")
    try:
        in_shape, out_shape = model.input_shape, tuple(model.output_shape)
    except (AttributeError, ValueError):
        raise UsageError(f"{source}: not a single-output generator model") from None
    views = None
    if isinstance(in_shape, list) and len(in_shape) == 2:  # [latents, view ids]
        views = list((options or {}).get("views") or [])
        if not views:
            raise UsageError(f"{source}: a conditional generator, but no views in "
                             f"{OPTIONS_FILE} beside it")
        in_shape = in_shape[0]
    in_shape = tuple(in_shape)
    if len(in_shape) != 2 or len(out_shape) != 4 or out_shape[1] != out_shape[2] \
            or out_shape[3] not in (1, 3):
        raise UsageError(f"{source}: expected latents (N, latent_dim) -> images (N, S, S, 1 or 3),"
                         f" the model maps {in_shape} -> {out_shape}")
    generator = LoadedGenerator(model, int(in_shape[1]), int(out_shape[1]), int(out_shape[3]),
                                Path(path) if path else None, dict(options or {}), views)
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


def views_to_draw(generator, asked=None):
    """[(view, view id)] that `asked` means: a one-view generator's own view (id None; a
    UsageError when another is asked); for a conditional one, `asked` or, for None and "all",
    every view it learned."""
    if generator.views is None:
        if asked == "all":
            raise UsageError(f"{generator.path}: a generator of the one view "
                             f"{generator.options.get('view', '?')}; --view all needs a "
                             "generator trained with --views")
        generator.view_id(asked or generator.options.get("view"))
        return [(asked or generator.options.get("view"), None)]
    if asked in (None, "all"):
        return list(zip(generator.views, range(len(generator.views))))
    return [(asked, generator.view_id(asked))]


def view_rows(latents, view_ids):
    """Inputs drawing every latent for every view, one view after the other (a grid with one
    row per view): [latents tiled, view ids repeated]."""
    view_ids = np.asarray(list(view_ids), np.int32)
    return [np.tile(latents, (len(view_ids), 1)), np.repeat(view_ids, len(latents))]


def generate_images(generator, latents, batch_size=256, view_ids=None):
    """Images as uint8 (N, S, S, C) for `latents` (of `view_ids`, one int or one per latent,
    for a conditional generator), generated in batches."""
    generator = as_generator(generator)
    if view_ids is not None:
        view_ids = np.broadcast_to(np.asarray(view_ids, np.int32), (len(latents),))
    parts = [to_uint8(generator(latents[start:start + batch_size],
                                None if view_ids is None else view_ids[start:start + batch_size]))
             for start in range(0, len(latents), batch_size)]
    if not parts:
        return np.zeros((0, generator.image_size, generator.image_size, generator.channels),
                        np.uint8)
    return np.concatenate(parts)


def generate_pictures(generator, latents, batch_size=256, view_ids=None):
    """Images as uint8 for `latents` (and `view_ids`, see `generate_images`), shown in the
    generator's pictures' shape (see `cargen.aspect.restore_aspect`): what is written for
    people to look at."""
    generator = as_generator(generator)
    return restore_aspect(generate_images(generator, latents, batch_size, view_ids),
                          generator.aspect)


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
