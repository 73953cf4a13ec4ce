"""A contact sheet: one labelled row of thumbnails per folder, to check a sort at a glance."""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from cargen.images import ImageDecodeError, list_images, load_square
from cargen.safe_files import replace_atomically

BACKGROUND = (255, 255, 255)
TEXT = (20, 20, 20)
MUTED = (110, 110, 110)


def label_font(size):
    """Pillow's default font at `size` pixels (the fixed bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def sample_evenly(items, count):
    """Up to `count` items spread evenly over `items` (first and last included)."""
    items = list(items)
    if len(items) <= count:
        return items
    step = (len(items) - 1) / (count - 1) if count > 1 else 0
    return [items[round(i * step)] for i in range(count)]


def contact_sheet(folders, out_path, per_row=8, thumb_size=96, title=None):
    """Write a PNG with one row per (label, folder) pair in `folders`: label, count, thumbnails.

    `folders` is a list of (label, folder path); folders that are missing or hold no image are
    listed with a count of 0. Thumbnails keep the aspect ratio (padded), spread evenly over the
    folder's sorted listing. Returns the output path.
    """
    rows = []
    for label, folder in folders:
        folder = Path(folder)
        images = list_images(folder) if folder.is_dir() else []
        rows.append((label, len(images), sample_evenly(images, per_row)))
    label_width, gap, title_height = 150, 4, 36 if title else 0
    row_height = thumb_size + gap
    width = label_width + per_row * (thumb_size + gap) + gap
    height = title_height + max(1, len(rows)) * row_height + gap
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    big, small = label_font(18), label_font(13)
    if title:
        draw.text((gap * 2, 8), title, fill=TEXT, font=big)
    for r, (label, count, paths) in enumerate(rows):
        top = title_height + r * row_height + gap
        draw.text((gap * 2, top + thumb_size // 2 - 18), label, fill=TEXT, font=big)
        draw.text((gap * 2, top + thumb_size // 2 + 4), f"{count:,} images", fill=MUTED,
                  font=small)
        for c, path in enumerate(paths):
            left = label_width + c * (thumb_size + gap)
            try:
                thumb = Image.fromarray(load_square(path, thumb_size, "pad"))
            except ImageDecodeError:
                draw.rectangle([left, top, left + thumb_size - 1, top + thumb_size - 1],
                               outline=MUTED)
                draw.text((left + 6, top + thumb_size // 2 - 6), "unreadable", fill=MUTED,
                          font=small)
                continue
            sheet.paste(thumb, (left, top))
        if not paths:
            draw.text((label_width, top + thumb_size // 2 - 6), "(empty)", fill=MUTED,
                      font=small)
    return replace_atomically(out_path, lambda temporary: sheet.save(temporary, format="PNG"))
