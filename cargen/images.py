"""Finding images in a folder and decoding any of them to RGB uint8, or one clear error.

Every script reads pictures through `list_images` and `load_rgb` (or `load_square`, which also
resizes), so a corrupt or odd file is handled the same way everywhere: it raises
`ImageDecodeError` naming the file, which callers count and skip. Making a picture square
is `cargen.aspect`'s job.
"""

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from cargen.aspect import FIT_MODES, fit_square  # noqa: F401  (FIT_MODES: re-exported)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"})
JUNK_NAMES = frozenset({"thumbs.db", ".ds_store", "desktop.ini"})

# Refuse pictures above this many pixels (a 16k x 16k decompression bomb is 256 Mpx).
MAX_PIXELS = 100_000_000


class ImageDecodeError(ValueError):
    """A file that cannot be read as an image. `str()` names the file and the reason."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def is_image_name(path):
    """True if `path`'s name looks like a picture: a known extension, not hidden, not junk."""
    name = Path(path).name
    if name.startswith(".") or name.lower() in JUNK_NAMES:
        return False
    return Path(name).suffix.lower() in IMAGE_EXTENSIONS


def list_images(folder):
    """Sorted image files directly inside `folder` (sub-folders, hidden files and junk skipped)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    with os.scandir(folder) as entries:
        names = sorted(entry.name for entry in entries
                       if is_image_name(entry.name) and entry.is_file())
    return [folder / name for name in names]


def _open(path):
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ImageDecodeError(path, f"cannot read ({error.strerror or error})") from None
    if size == 0:
        raise ImageDecodeError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(path)
        if image.width * image.height > MAX_PIXELS:
            raise ImageDecodeError(path, f"too large ({image.width}x{image.height} pixels)")
        return image
    except ImageDecodeError:
        raise
    except (Image.UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise ImageDecodeError(path, "not an image, or a format Pillow cannot read") from None
    except OSError as error:
        raise ImageDecodeError(path, f"cannot read ({error})") from None


def _to_rgb(image):
    """Convert any Pillow mode to RGB uint8; transparency is composited onto white."""
    if image.mode == "RGB":
        return image
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = values.max() if values.size else 0.0
        scale = 255.0 if top <= 255 else (65535.0 if top <= 65535 else top)
        gray = np.clip(values / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(gray, "L").convert("RGB")
    return image.convert("RGB")


def decode_picture(path, draft_size=None):
    """Decode `path` to an RGB PIL image, EXIF orientation applied; a JPEG is decoded at a
    reduced scale no smaller than `draft_size` on a side when that is given. Raises
    `ImageDecodeError` like `load_rgb`."""
    image = _open(path)
    try:
        with image:
            if draft_size is not None and image.format == "JPEG":
                image.draft("RGB", (draft_size, draft_size))
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
    except ImageDecodeError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError) as error:
        reason = str(error) or type(error).__name__
        if "truncated" in reason:
            reason = "truncated file"
        raise ImageDecodeError(path, f"corrupt image ({reason})") from None


def load_rgb(path):
    """Decode `path` to an RGB uint8 array of shape (height, width, 3).

    Grayscale, palette, CMYK, 16-bit and images with alpha all become RGB (alpha over white;
    the EXIF orientation is applied). A corrupt, truncated, zero-byte or non-image file raises
    `ImageDecodeError`.
    """
    return np.asarray(decode_picture(path))


def load_square(path, size, fit="pad"):
    """Decode `path` and return a (size, size, 3) RGB uint8 array (see `cargen.aspect.fit_square`).

    JPEGs are decoded at a reduced scale when the target is much smaller (fast and exact
    enough for training). Raises `ImageDecodeError` like `load_rgb`.
    """
    return np.asarray(fit_square(decode_picture(path, draft_size=size), size, fit))
