"""Thumbnails for the labelling page, made on demand and cached on disk.

A photo already small enough (and in a format every browser shows) is served as it is. Larger
ones are decoded with Pillow's JPEG draft mode (the decoder scales by 1/2, 1/4 or 1/8 while
reading), shrunk and saved as JPEG under the cache folder, keyed by name, size and modification
time. Files are written through cargen.safe_files, so a killed labeller leaves no half-written
thumbnail.
"""

import hashlib
import io
import math
import os
import warnings
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from cargen.images import MAX_PIXELS
from cargen.safe_files import replace_atomically

THUMB_SIZE = 384
SERVE_AS_IS_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif",
                       "WEBP": "image/webp"}
SERVE_AS_IS_BYTES = 300_000


def placeholder_png(size=THUMB_SIZE, text="unreadable"):
    """A dark grey PNG with a red cross and `text`, shown for a file that cannot be decoded."""
    height = size * 3 // 4
    image = Image.new("RGB", (size, height), (44, 46, 52))
    draw = ImageDraw.Draw(image)
    draw.line([(size * 0.35, height * 0.3), (size * 0.65, height * 0.62)], (200, 80, 80), 6)
    draw.line([(size * 0.65, height * 0.3), (size * 0.35, height * 0.62)], (200, 80, 80), 6)
    draw.text((size / 2, height * 0.8), text, fill=(200, 200, 200), anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _flatten(image):
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if image.mode.startswith("I") or image.mode == "F":
        return image.point(lambda v: v / 256).convert("L").convert("RGB")
    return image.convert("RGB")


def make_thumbnail(source, size=THUMB_SIZE, draft=True):
    """Decode `source` and return an RGB PIL image whose longer side is at most `size`.

    With `draft` (the default) JPEGs are decoded at a reduced scale. Raises OSError or
    ValueError for a file Pillow cannot read.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(source) as image:
            if image.width * image.height > MAX_PIXELS:
                raise ValueError(f"{source}: too large ({image.width}x{image.height})")
            if draft and image.format == "JPEG":
                scale = size / max(image.size)
                image.draft("RGB", (math.ceil(image.width * scale),
                                    math.ceil(image.height * scale)))
            image.load()
            image = _flatten(ImageOps.exif_transpose(image))
    image.thumbnail((size, size), Image.BILINEAR, reducing_gap=2.0)
    return image


class Thumbnails:
    """On-demand thumbnails of the photos in one folder, cached under `cache_dir`."""

    def __init__(self, cache_dir, size=THUMB_SIZE):
        self.cache_dir = Path(cache_dir)
        self.size = size
        self._made_dirs = set()

    def cache_path(self, source):
        """Where the thumbnail of `source` is (or will be) cached."""
        stat = os.stat(source)
        key = f"{Path(source).name}\0{stat.st_size}\0{stat.st_mtime_ns}\0{self.size}"
        digest = hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()
        return self.cache_dir / digest[:2] / f"{digest[2:20]}.jpg"

    def _as_is_type(self, source):
        if os.path.getsize(source) > SERVE_AS_IS_BYTES:
            return None
        with Image.open(source) as image:
            if max(image.size) > self.size or image.mode not in ("RGB", "L", "P", "RGBA"):
                return None
            if image.getexif().get(0x0112, 1) != 1:
                return None
            return SERVE_AS_IS_FORMATS.get(image.format)

    def get(self, source):
        """(path, mimetype) of a thumbnail for `source`: the file itself when it is already
        small, else a cached JPEG made now if needed. Raises OSError/ValueError if unreadable."""
        mimetype = self._as_is_type(source)
        if mimetype:
            return Path(source), mimetype
        target = self.cache_path(source)
        if target.exists():
            return target, "image/jpeg"
        image = make_thumbnail(source, self.size)
        folder = target.parent
        if folder not in self._made_dirs:
            folder.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(folder)
        replace_atomically(target, lambda temporary: image.save(temporary, "JPEG", quality=85))
        return target, "image/jpeg"
