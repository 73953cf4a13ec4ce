"""Pictures and squares: the one home of aspect handling.

Training pictures are made square (`fit_square`: pad, crop or stretch); a generator trained on
them draws squares. To show or judge those squares as the pictures they came from, the
pictures' width / height is measured once (`content_aspect`, `display_aspect`) and the squares
are put back in that shape (`picture_shape`: `restore_aspect` undoes stretching, `unpad` cuts
the padding bands off).
"""

import numpy as np
from PIL import Image

FIT_MODES = ("pad", "crop", "stretch")
SQUARE_TOLERANCE = 0.02  # aspects this close to 1 are treated as square


def fit_square(image, size, fit="pad"):
    """Make a PIL RGB image `size` x `size`.

    fit: "pad" keeps the whole picture and fills the borders with the mean colour of its edge
    pixels; "crop" takes the central square; "stretch" ignores the aspect ratio.
    """
    if fit not in FIT_MODES:
        raise ValueError(f"fit must be one of {', '.join(FIT_MODES)}, not {fit!r}")
    width, height = image.size
    if fit == "stretch" or width == height:
        return image.resize((size, size), Image.BILINEAR, reducing_gap=2.0)
    if fit == "crop":
        side = min(width, height)
        left, top = (width - side) // 2, (height - side) // 2
        return image.resize((size, size), Image.BILINEAR,
                            box=(left, top, left + side, top + side), reducing_gap=2.0)
    scale = size / max(width, height)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    canvas = Image.new("RGB", (size, size), edge_colour(image))
    resized = image.resize((new_w, new_h), Image.BILINEAR, reducing_gap=2.0)
    canvas.paste(resized, ((size - new_w) // 2, (size - new_h) // 2))
    return canvas


def edge_colour(image):
    """The mean colour (an RGB tuple of ints) of the outermost pixels of a PIL RGB image: what
    padding fills the borders with."""
    pixels = np.asarray(image)
    edges = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    return tuple(int(c) for c in edges.mean(axis=0).round())


def content_aspect(paths, max_files=500):
    """Median width / height of the pictures in `paths` (first `max_files` readable ones)."""
    ratios = []
    for path in list(paths)[:max_files]:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # unreadable files are counted where they are decoded
            continue
        if width and height:
            ratios.append(width / height)
    return float(np.median(ratios)) if ratios else 1.0


def display_aspect(paths, fit):
    """Width / height to show squares made from `paths` with `fit` at: the pictures' median
    (4 decimals) for stretched pictures, whose squares are distorted; 1 for padded or cropped
    ones, which are shown as the squares they were trained on."""
    return round(content_aspect(paths), 4) if fit == "stretch" else 1.0


def _is_square(aspect):
    return aspect is None or abs(aspect - 1.0) < SQUARE_TOLERANCE


def restore_aspect(images, aspect):
    """Square uint8 images (N, S, S, C) from a generator trained on pictures stretched to a
    square, resized back to the pictures' width / height `aspect` (S pixels high when wider
    than tall, S wide otherwise). `aspect` None or about 1 returns `images` unchanged."""
    images = np.asarray(images)
    if _is_square(aspect) or not len(images):
        return images
    size = images.shape[1]
    width, height = (round(size * aspect), size) if aspect > 1 else (size, round(size / aspect))
    resized = [np.asarray(Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image)
                          .resize((width, height), Image.Resampling.BICUBIC))
               for image in images]
    return np.stack(resized).reshape(len(images), height, width, images.shape[-1])


def unpad(images, aspect):
    """Cut the padding bands off square images (N, S, S, C) made with fit "pad" from pictures
    of width / height `aspect`: the classifier then sees the picture's own shape, as in its
    training, instead of a letterboxed one."""
    size = images.shape[1]
    if _is_square(aspect):
        return images
    if aspect > 1:
        height = max(1, round(size / aspect))
        top = (size - height) // 2
        return images[:, top:top + height]
    width = max(1, round(size * aspect))
    left = (size - width) // 2
    return images[:, :, left:left + width]


def picture_shape(images, fit, aspect):
    """Square images (N, S, S, C) made from pictures of width / height `aspect` with `fit`,
    back in the pictures' shape: padding bands cut off ("pad"), stretching undone
    ("stretch"); crops and `aspect` None are returned as they are."""
    if fit == "pad":
        return unpad(images, aspect)
    if fit == "stretch":
        return restore_aspect(images, aspect)
    return images
