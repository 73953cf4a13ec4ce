"""Pictures from generator output: [-1, 1] to uint8, RGB, enlarged grids, PNG and GIF files.

What `generator/generate.py` writes and the run folder's sample grids and progress GIF are made
here; every file goes through `cargen.safe_files`, so none is ever half-written.
"""

import math

import numpy as np

from cargen.safe_files import replace_atomically


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


def label_rows(grid, labels, padding=2, background=255, colour=(20, 20, 20)):
    """`grid` (uint8 (H, W, 3), equal rows as `image_grid` tiles them) with a margin on its
    left naming each row."""
    from PIL import Image, ImageDraw

    from cargen.contact_sheet import label_font
    row_height = (grid.shape[0] - padding) / len(labels)
    font = label_font(max(10, min(16, round(row_height / 4))))
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    margin = 8 + round(max(measure.textlength(label, font=font) for label in labels))
    canvas = Image.new("RGB", (grid.shape[1] + margin, grid.shape[0]), (background,) * 3)
    canvas.paste(Image.fromarray(grid), (margin, 0))
    draw = ImageDraw.Draw(canvas)
    for row, label in enumerate(labels):
        draw.text((4, padding + (row + 0.5) * row_height), label, fill=colour, font=font,
                  anchor="lm")
    return np.asarray(canvas)


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
