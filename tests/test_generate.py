"""Generating images: PNGs, a grid and a looping latent-walk GIF from a generator run folder."""

import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
from in_process import run_in_process
from PIL import Image
from tiny_generators import build_tiny_generator, write_generator_run

from generator.sampling import generate_images, latent_walk, load_generator, sample_latents, slerp

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def generator_run(tmp_path_factory):
    """A run folder with a last and a (different) best generator, 32 px RGB, latent 8."""
    return write_generator_run(tmp_path_factory.mktemp("gen") / "front_left_test",
                               build_tiny_generator(seed=1), best=build_tiny_generator(seed=2))


def run_script(*args):
    """Run generate.py in a new Python process; return the finished process."""
    return subprocess.run([sys.executable, "generator/generate.py", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def run(*args):
    """Run generate.py's main in this process; return the CompletedProcess."""
    return run_in_process("generator/generate.py", *args)


def test_generate_writes_images_grid_and_looping_gif(generator_run, tmp_path):
    out = tmp_path / "cars"
    result = run_script("--model", generator_run, "--n", 6, "--out", out, "--grid",
                        "--interpolate", 6, "--keyframes", 3)
    assert result.returncode == 0, result.stderr
    assert "generator_best.keras" in result.stdout
    images = sorted(out.glob("image_*.png"))
    assert [p.name for p in images] == [f"image_{i:04d}.png" for i in range(6)]
    with Image.open(images[0]) as image:
        assert image.size == (32, 32) and image.mode == "RGB"
    with Image.open(out / "grid.png") as grid:
        assert grid.width >= 3 * 96  # three columns of cells enlarged to >= 96 px
    frames = iio.imread(out / "interpolation.gif").astype(np.float64)
    assert frames.shape[0] == 18 and frames.shape[-1] == 3
    steps = [np.abs(frames[i + 1] - frames[i]).mean() for i in range(len(frames) - 1)]
    far = np.abs(frames[9] - frames[0]).mean()
    assert max(steps) < far  # a smooth walk: neighbouring frames are closer than distant ones
    assert np.abs(frames[0] - frames[-1]).mean() < far  # and it loops back to its start


def test_a_generator_of_stretched_pictures_draws_them_in_their_own_shape(tmp_path):
    run_dir = write_generator_run(tmp_path / "stretched", build_tiny_generator(seed=1),
                                  fit="stretch", display_aspect=4 / 3)
    out = tmp_path / "cars"
    result = run("--model", run_dir, "--n", 1, "--out", out, "--grid", "--interpolate", 2,
                 "--keyframes", 2)
    assert result.returncode == 0, result.stderr
    with Image.open(out / "image_0000.png") as image:
        assert image.size == (43, 32)  # 32 px squares shown 4:3, as the pictures were
    with Image.open(out / "grid.png") as grid:
        assert grid.size == (2 + 3 * 43 + 2, 2 + 3 * 32 + 2)  # one cell enlarged 3x
    assert iio.imread(out / "interpolation.gif").shape[1:3] == (100, 133)


def test_restore_aspect_resizes_squares_to_the_pictures_shape():
    from cargen.aspect import restore_aspect
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    assert restore_aspect(images, 4 / 3).shape == (3, 16, 21, 3)
    assert restore_aspect(images, 0.5).shape == (3, 32, 16, 3)
    assert restore_aspect(images[..., :1], 2.0).shape == (3, 16, 32, 1)
    assert restore_aspect(images, 1.0) is images and restore_aspect(images, None) is images
    flat = np.full((1, 16, 16, 3), 77, np.uint8)
    assert (restore_aspect(flat, 1.5) == 77).all()


def test_same_seed_same_images(generator_run):
    generator = load_generator(generator_run)
    assert generator.path.name == "generator_best.keras"
    assert load_generator(generator_run, prefer_best=False).path.name == "generator.keras"
    first = generate_images(generator, sample_latents(4, generator.latent_dim, seed=7))
    again = generate_images(generator, sample_latents(4, generator.latent_dim, seed=7))
    other = generate_images(generator, sample_latents(4, generator.latent_dim, seed=8))
    np.testing.assert_array_equal(first, again)
    assert np.abs(first.astype(int) - other).mean() > 5


def test_slerp_stays_on_the_latent_shell():
    a, b = np.eye(2, 64, dtype=np.float32) * 8.0  # two orthogonal latents of norm 8
    np.testing.assert_allclose(slerp(a, b, 0.0), a, atol=1e-5)
    np.testing.assert_allclose(slerp(a, b, 1.0), b, atol=1e-5)
    assert np.linalg.norm(slerp(a, b, 0.5)) == pytest.approx(8.0)  # a straight line: 5.66
    walk = latent_walk(n_walks=3, latent_dim=16, steps=5, keyframes=4, seed=0)
    assert walk.shape == (20, 3, 16)


def test_bad_model_gives_one_line_error(tmp_path):
    result = run("--model", tmp_path / "missing", "--out", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "missing: not found" in result.stderr
    (tmp_path / "empty_run").mkdir()
    result = run("--model", tmp_path / "empty_run", "--out", tmp_path / "out")
    assert result.returncode == 2 and "no generator.keras" in result.stderr
