"""One generator of many views (train_wgan.py --views): a short run on tiny view folders trains
every view that has photos of its own or of its mirror, draws one grid row per view, writes
TensorBoard events and resumes; generate.py and evaluate.py draw and judge it view by view; bad
views give one-line errors."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from in_process import run_in_process
from PIL import Image, ImageDraw
from test_train_wgan import TINY, metrics

REPO = Path(__file__).resolve().parents[1]
COLOURS = {"front": (200, 30, 30), "front_left": (30, 160, 30), "left": (30, 30, 200),
           "rear": (200, 200, 30)}
TRAINED = ["front", "front_left", "front_right", "left", "right", "rear"]  # right: from left


def make_view_folders(root, counts):
    """root/<view>/ with `count` 40x24 pictures each: a box of the view's colour, its wheel
    toward the image left (so a flipped picture shows it on the right)."""
    rng = np.random.default_rng(0)
    for view, count in counts.items():
        (root / view).mkdir(parents=True)
        for i in range(count):
            image = Image.new("RGB", (40, 24), tuple(int(c) for c in rng.integers(180, 255, 3)))
            draw = ImageDraw.Draw(image)
            draw.rectangle([6, 6, 34, 18], fill=COLOURS[view])
            draw.ellipse([6, 14, 14, 22], fill=(10, 10, 10))
            image.save(root / view / f"car_{i:02d}.png")
    return root


def run(script, *args):
    """Run a generator script's main in this process; returns the CompletedProcess."""
    return run_in_process(script, *args)


def run_script(script, *args, timeout=180):
    """Run a generator script in a new Python process; returns the CompletedProcess (text
    output)."""
    return subprocess.run([sys.executable, script, *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def view_root(tmp_path_factory):
    """Four view folders with photos, rear_left empty, the other views missing."""
    root = make_view_folders(tmp_path_factory.mktemp("views"),
                             {"front": 6, "front_left": 10, "left": 4, "rear": 6})
    (root / "rear_left").mkdir()
    return root


@pytest.fixture(scope="module")
def conditional_run(view_root, tmp_path_factory, tiny_classifier_run):
    """A conditional WGAN-GP run (view-conditional batch norms) of 2 epochs x 3 iterations with
    --ema, evaluated after each; (folder, output of the first epoch, output of the resumed
    second)."""
    folder = tmp_path_factory.mktemp("runs") / "all"
    args = ["--data-root", view_root, "--views", "all", "--conditioning", "batchnorm", *TINY,
            "--loss", "wgan-gp", "--ema",
            "0.9", "--steps-per-epoch", "3", "--out", folder, "--grid", "3", "--classifier",
            tiny_classifier_run, "--eval-every", "1", "--eval-samples", "8"]
    first = run("generator/train_wgan.py", *args, "--epochs", "1")
    assert first.returncode == 0, first.stderr
    resumed = run("generator/train_wgan.py", *args, "--epochs", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    return folder, first.stdout + first.stderr, resumed.stdout


def test_conditional_run_trains_every_view_with_photos_and_resumes(conditional_run):
    folder, output, resumed = conditional_run
    options = json.loads((folder / "options.json").read_text())
    assert options["views"] == TRAINED and options["view"] == "all"
    assert options["conditioning"] == "batchnorm"
    assert "view right: no photos of its own" in output and "4 mirrored left photos" in output
    assert "view rear_left not trained" in output and "rear_right not trained" in output
    assert "resumed" in resumed and "generator iteration 3" in resumed

    rows = metrics(folder)
    assert [int(r["step"]) for r in rows] == list(range(1, 7))
    assert all(math.isfinite(float(r[k])) for r in rows for k in r)
    grid = Image.open(folder / "images" / "generated_plot_0002.png")
    tile_height, tile_width = 4 * 32, 4 * round(32 * 40 / 24)  # shown 40:24, enlarged 4x
    assert grid.height == 2 + len(TRAINED) * (tile_height + 2)  # a row per view
    margin = grid.width - (2 + 3 * (tile_width + 2))  # 3 columns and the views' names
    assert 40 < margin < 200
    assert Image.open(folder / "progress.gif").n_frames == 2

    events = list((folder / "tensorboard").glob("events.out.tfevents.*"))
    assert events
    import tensorflow as tf
    tags = {value.tag for path in events for event in tf.compat.v1.train.summary_iterator(
        str(path)) for value in event.summary.value}
    assert {"wasserstein", "critic_loss_real", "generator_loss", "grid",
            "eval/fd_classifier", "eval/view_control"} <= tags

    per_view = metrics(folder, "eval_views.csv")
    assert [(int(r["epoch"]), r["view"]) for r in per_view] == [
        (epoch, view) for epoch in (1, 2) for view in TRAINED]
    assert all(0 <= float(r["view_control"]) <= 1 and math.isfinite(float(r["fd_classifier"]))
               for r in per_view)
    means = metrics(folder, "eval.csv")
    assert [int(r["epoch"]) for r in means] == [1, 2]
    assert float(means[0]["fd_classifier"]) == pytest.approx(
        np.mean([float(r["fd_classifier"]) for r in per_view[:len(TRAINED)]]))
    assert (folder / "generator_best.keras").exists()


def test_a_batch_balances_the_views_and_flips_the_mirrored_ones(view_root):
    from generator.conditional_input import ViewImages
    images = ViewImages(view_root, ["left", "right", "front_left"], 32, progress=False)
    assert images.views == ["left", "right", "front_left"] and images.from_mirror == ["right"]
    batch, view_ids = next(iter(images.batches(300, seed=0)))
    counts = np.bincount(view_ids.numpy(), minlength=3)
    assert counts.min() > 70  # about 100 each, though left has 4 photos and front_left 10
    def darkest_column(view_id):  # where the black wheel is
        return np.argmin(batch.numpy()[view_ids.numpy() == view_id].mean(axis=(0, 1, 3)))
    assert darkest_column(0) < 16 <= darkest_column(1)  # left photos, and flipped for right


def test_bad_views_give_one_line_errors(view_root, tmp_path):
    bad = run("generator/train_wgan.py", "--data-root", view_root, "--views", "front,sideways",
              *TINY, "--out", tmp_path / "bad")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert "'sideways' is not a view" in bad.stderr

    empty = tmp_path / "empty"
    (empty / "rear_left").mkdir(parents=True)
    # A new process: this error comes after TensorFlow has started, and is still one line.
    refused = run_script("generator/train_wgan.py", "--data-root", empty, "--views",
                         "rear_left,rear", *TINY, "--out", tmp_path / "none")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "none of the views rear,rear_left has photos" in refused.stderr.replace(", ", ",")

    both = run("generator/train_wgan.py", "--data-root", view_root, "--views", "all",
               "--view", "left", *TINY)
    assert both.returncode == 2 and "leave out --data and --view" in both.stderr

    one_view = run("generator/train_wgan.py", "--data", view_root / "left", "--conditioning",
                   "batchnorm", *TINY)
    assert one_view.returncode == 2 and one_view.stderr.count("\n") == 1
    assert "--conditioning batchnorm needs --views" in one_view.stderr


def test_generate_draws_one_view_or_every_view(conditional_run, tmp_path):
    folder, _, _ = conditional_run
    one = run("generator/generate.py", "--model", folder, "--view", "right", "--n", 3,
              "--out", tmp_path / "right")
    assert one.returncode == 0, one.stderr
    assert len(list((tmp_path / "right").glob("image_*.png"))) == 3

    every = run("generator/generate.py", "--model", folder, "--view", "all", "--n", 4,
                "--out", tmp_path / "all", "--grid", "--interpolate", 2, "--keyframes", 2)
    assert every.returncode == 0, every.stderr
    for view in TRAINED:
        assert len(list((tmp_path / "all" / view).glob("image_*.png"))) == 4
    first = [np.asarray(Image.open(tmp_path / "all" / view / "image_0000.png")) for view in TRAINED]
    assert any(np.abs(a.astype(int) - first[0]).mean() > 0 for a in first[1:])
    with Image.open(tmp_path / "all" / "grid.png") as grid:  # 4 columns, a named row per view
        assert grid.height == 2 + len(TRAINED) * (3 * 32 + 2)
        assert 40 < grid.width - (2 + 4 * (3 * 53 + 2)) < 200
    with Image.open(tmp_path / "all" / "interpolation.gif") as gif:
        assert gif.n_frames == 4 and gif.height == 2 + len(TRAINED) * (3 * 32 + 2)

    untrained = run("generator/generate.py", "--model", folder, "--view", "rear_left",
                    "--out", tmp_path / "none")
    assert untrained.returncode == 2 and untrained.stderr.count("\n") == 1
    assert "draws the views front, front_left" in untrained.stderr


def test_a_one_view_generator_draws_only_its_view(tmp_path):
    from tiny_generators import build_tiny_generator, write_generator_run
    folder = write_generator_run(tmp_path / "front_left_run", build_tiny_generator())
    # "rear" in a new process: this error comes after TensorFlow has started, and is one line.
    for view, how in (("rear", run_script), ("all", run)):
        result = how("generator/generate.py", "--model", folder, "--view", view,
                     "--out", tmp_path / "out")
        assert result.returncode == 2 and result.stderr.count("\n") == 1
        assert "one view front_left" in result.stderr
    same = run("generator/generate.py", "--model", folder, "--view", "front_left", "--n", 1,
               "--out", tmp_path / "out")
    assert same.returncode == 0, same.stderr


def test_evaluate_judges_every_view_and_draws_the_confusion(conditional_run, view_root,
                                                            tiny_classifier_run, tmp_path):
    folder, _, _ = conditional_run
    out = tmp_path / "eval.json"
    result = run("generator/evaluate.py", "--model", folder, "--classifier",
                 tiny_classifier_run, "--real", view_root, "--n", 12, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "view control over 6 views" in result.stdout
    report = json.loads(out.read_text())
    assert list(report["views"]) == TRAINED
    right = report["views"]["right"]
    assert right["real_photos"] == "4 flipped left" and right["n_real"] == 4
    for figures in report["views"].values():
        assert 0 <= figures["view_control"] <= 1 and 0 <= figures["view_fidelity"] <= 1
        assert all(math.isfinite(figures[k]) for k in ("fd_classifier", "kid", "diversity"))
    shares = np.asarray(report["confusion"]["shares"])
    assert shares.shape == (6, 9) and np.allclose(shares.sum(axis=1), 1)
    assert report["confusion"]["asked"] == TRAINED
    with Image.open(tmp_path / "view_confusion.png") as picture:
        assert picture.width > 400

    one = run("generator/evaluate.py", "--model", folder, "--classifier", tiny_classifier_run,
              "--real", view_root, "--n", 4, "--view", "front", "--out", tmp_path / "one.json")
    assert one.returncode == 0, one.stderr
    assert list(json.loads((tmp_path / "one.json").read_text())["views"]) == ["front"]


def test_conditional_run_under_mirrored_strategy_with_clipping(view_root, tmp_path):
    # A new process: the CPU is split into two devices before TensorFlow starts.
    result = run_script("generator/train_wgan.py", "--data-root", view_root, "--views",
                        "left,right", *TINY, "--epochs", "1", "--steps-per-epoch", "2", "--out",
                        tmp_path / "run", "--strategy", "mirrored", "--cpu-replicas", "2")
    assert result.returncode == 0, result.stderr
    assert "2 replicas" in result.stdout
    assert json.loads((tmp_path / "run" / "options.json").read_text())["views"] == ["left", "right"]
    assert all(math.isfinite(float(r["wasserstein"])) for r in metrics(tmp_path / "run"))


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_conditional_step_in_mixed_precision(policy):
    import keras
    import tensorflow as tf

    from generator.training import build_wgan
    options = {"latent_dim": 8, "image_size": 16, "channels": 3, "width": 4, "lr": 1e-3,
               "beta_1": 0.5, "beta_2": 0.9, "n_critic": 2, "clip_value": 0.01,
               "gp_weight": 10.0, "jit": False, "ema": 0.9}
    real = np.random.default_rng(0).uniform(-1, 1, (4, 16, 16, 3)).astype(np.float32)
    batches = tf.data.Dataset.from_tensors((real, np.array([0, 1, 2, 1], np.int32))).repeat()
    keras.mixed_precision.set_global_policy(policy)
    try:
        for loss, conditioning in (("wgan", "input"), ("wgan-gp", "batchnorm")):
            wgan = build_wgan({**options, "loss": loss, "conditioning": conditioning},
                              views=["left", "right", "rear"])
            iterator = iter(batches)
            logs = [wgan.train_step(iterator) for _ in range(2)][-1]
            assert all(math.isfinite(float(value)) for value in logs.values())
            images = wgan.sampler([tf.zeros((2, 8)), tf.constant([0, 2])])
            assert images.dtype == tf.float32 and images.shape == (2, 16, 16, 3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
