"""Image discovery and robust decoding: every odd image kind becomes RGB uint8 or a clear error."""

import io

import numpy as np
import pytest
from PIL import Image

from cargen.images import ImageDecodeError, list_images, load_rgb, load_square


def save(image, path, **options):
    image.save(path, **options)
    return path


@pytest.fixture
def rgb_array():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "RGBA", "LA", "1", "I;16", "I", "F"])
def test_odd_modes_decode_to_rgb_uint8(tmp_path, rgb_array, mode):
    base = Image.fromarray(rgb_array)
    if mode in ("I;16", "I", "F"):
        values = (np.asarray(base.convert("L"), np.float64) * 257).astype(np.uint16)
        image = Image.fromarray(values)
        if mode != "I;16":
            image = image.convert(mode)
        path = save(image, tmp_path / ("deep.png" if mode == "I;16" else "deep.tiff"))
    else:
        image = base.convert(mode)
        path = save(image, tmp_path / ("x.jpg" if mode == "CMYK" else "x.png"))
    pixels = load_rgb(path)
    assert pixels.dtype == np.uint8 and pixels.shape == (24, 32, 3)


def test_sixteen_bit_png_keeps_brightness(tmp_path):
    values = np.full((8, 8), 65535, np.uint16)
    path = save(Image.fromarray(values), tmp_path / "white16.png")
    assert load_rgb(path).min() == 255


def test_alpha_is_composited_on_white(tmp_path):
    image = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    pixels = load_rgb(save(image, tmp_path / "clear.png"))
    assert (pixels == 255).all()


def test_palette_with_transparency_and_animated_gif(tmp_path, rgb_array):
    frames = [Image.fromarray(rgb_array).convert("P"), Image.fromarray(255 - rgb_array).convert("P")]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], transparency=0)
    assert load_rgb(path).shape == (24, 32, 3)


def test_other_formats(tmp_path, rgb_array):
    for name in ("x.bmp", "x.webp", "x.JPEG"):
        path = save(Image.fromarray(rgb_array), tmp_path / name,
                    format={"x.JPEG": "JPEG"}.get(name))
        assert load_rgb(path).shape == (24, 32, 3)


def test_exif_orientation_is_applied(tmp_path, rgb_array):
    image = Image.fromarray(rgb_array)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees when shown
    path = save(image, tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(path).shape == (32, 24, 3)


@pytest.mark.parametrize("content,reason", [
    (b"", "empty file"),
    (b"this is not a picture at all", "not an image"),
    (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "corrupt image|not an image"),
])
def test_bad_files_raise_one_clear_error(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=reason) as caught:
        load_rgb(path)
    assert str(path) in str(caught.value)


def test_truncated_jpeg_raises(tmp_path, rgb_array):
    buffer = io.BytesIO()
    Image.fromarray(np.repeat(np.repeat(rgb_array, 8, 0), 8, 1)).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageDecodeError, match="truncated|corrupt"):
        load_rgb(path)


def test_missing_file_raises_decode_error(tmp_path):
    with pytest.raises(ImageDecodeError, match="cannot read"):
        load_rgb(tmp_path / "gone.jpg")


def test_discovery_skips_junk(tmp_path, rgb_array):
    for name in ("a.jpg", "B.PNG", "c.JpEg", "d.gif", "e.bmp", "f.webp"):
        save(Image.fromarray(rgb_array), tmp_path / name,
             format="JPEG" if name.lower().endswith(("jpg", "jpeg")) else None)
    for junk in ("Thumbs.db", ".DS_Store", ".hidden.jpg", "notes.txt", "model.h5"):
        (tmp_path / junk).write_bytes(b"x")
    (tmp_path / "sub.jpg").mkdir()
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "inner.jpg").write_bytes(b"x")
    names = [p.name for p in list_images(tmp_path)]
    assert names == ["B.PNG", "a.jpg", "c.JpEg", "d.gif", "e.bmp", "f.webp"]


@pytest.mark.parametrize("fit", ["pad", "crop", "stretch"])
def test_load_square(tmp_path, fit):
    image = np.zeros((40, 80, 3), np.uint8)
    image[:, :, 0] = 200
    path = save(Image.fromarray(image), tmp_path / "wide.png")
    square = load_square(path, 32, fit)
    assert square.shape == (32, 32, 3) and square.dtype == np.uint8
    assert abs(int(square[16, 16, 0]) - 200) <= 1
    if fit == "pad":
        assert abs(int(square[0, 0, 0]) - 200) <= 1  # border filled with the edge colour


def test_load_square_rejects_unknown_fit(tmp_path, rgb_array):
    path = save(Image.fromarray(rgb_array), tmp_path / "x.png")
    with pytest.raises(ValueError, match="fit must be"):
        load_square(path, 16, "zoom")
