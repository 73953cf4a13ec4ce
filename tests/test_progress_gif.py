"""The README's copy of a run's progress GIF: fewer, smaller frames, within a size limit."""

import numpy as np
import pytest
from PIL import Image

from cargen.cli import UsageError
from generator.progress_gif import small_progress_gif


def test_fits_the_size_limit_by_dropping_frames(tmp_path):
    images = tmp_path / "run" / "images"
    images.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for epoch in range(1, 31):
        noise = rng.integers(0, 256, (330, 660, 3), dtype=np.uint8)
        Image.fromarray(noise).save(images / f"generated_plot_{epoch:04d}.png")
    out = tmp_path / "media" / "progress.gif"
    frames, size = small_progress_gif(tmp_path / "run", out, frames=24, width=330, max_mb=0.5)
    assert size <= 0.5 * 2**20 and 2 <= frames < 24
    gif = Image.open(out)
    assert gif.size == (330, 165) and gif.n_frames == frames


def test_a_folder_without_grids_is_refused(tmp_path):
    with pytest.raises(UsageError, match="no images/generated_plot"):
        small_progress_gif(tmp_path, tmp_path / "x.gif")
