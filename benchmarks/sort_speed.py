"""Benchmark: photos sorted per second by classify_images' pipeline vs the seed's per-image loop.

Makes N 320x240 jpgs (synthetic, or resized from --source photos), builds untrained classifiers
to the run-folder contract (the 2021 `seed` network at 150 px and the default `compact` one at
112 px, from classifier/model.py when present), then measures in the same run:
  - the seed's method: one `load_img` + `model.predict` + move per image (2021 network);
  - the sort (tf.data parallel decode, batched prediction, moves on their own thread) with the
    default network, with test-time flip averaging, and with the 2021 network;
  - each stage alone (decoding, prediction) so the limiting stage is visible;
  - the sort with the shipped model (classifier/pretrained, --model) as its classes.json says:
    trained, calibrated, flip averaging for the photos it is unsure of. How many photos need the
    second pass depends on the photos, so give it real ones (--source).

  python benchmarks/sort_speed.py                       # 2,000 synthetic photos
  python benchmarks/sort_speed.py --images 5000 --source data/pictures
  python benchmarks/sort_speed.py --source ../shared/data/stanford-views/validation
  python benchmarks/sort_speed.py --widths 1.5,2 --model none   # what a wider network costs
"""

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from cargen.cli import UsageError, quiet_tensorflow, run_main
from cargen.images import list_images
from cargen.views import VIEWS


def cpu_seconds():
    """CPU time (user + system, all threads) this process has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def synthetic_photo(rng, width=320, height=240):
    """A photo-like 320x240 picture: sky/ground gradient, a car-ish body, wheels, noise."""
    sky, ground = rng.integers(60, 230, 3), rng.integers(30, 160, 3)
    t = np.linspace(0, 1, height)[:, None, None]
    pixels = (sky * (1 - t) + ground * t) * np.ones((1, width, 1))
    image = Image.fromarray(pixels.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    x, y = rng.integers(20, 80), rng.integers(80, 130)
    w, h = rng.integers(160, 230), rng.integers(50, 80)
    color = tuple(int(c) for c in rng.integers(0, 256, 3))
    draw.rounded_rectangle([x, y, x + w, y + h], radius=18, fill=color)
    draw.polygon([(x + w * 0.25, y), (x + w * 0.4, y - h * 0.6), (x + w * 0.75, y - h * 0.6),
                  (x + w * 0.85, y)], fill=tuple(c // 2 for c in color))
    for wx in (x + w * 0.2, x + w * 0.8):
        draw.ellipse([wx - 18, y + h - 18, wx + 18, y + h + 18], fill=(20, 20, 20))
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    noise = rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(np.asarray(image) + noise, 0, 255).astype(np.uint8))


def make_photos(folder, count, source=None, seed=0):
    """Write `count` 320x240 jpgs into `folder` (from `source` photos when given)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sources = []
    if source:
        sources = list_images(source) + [path for folder in sorted(Path(source).iterdir())
                                         if folder.is_dir() for path in list_images(folder)]
        if not sources:
            raise UsageError(f"{source}: no images (directly or one folder down)")
    for i in range(count):
        if sources:
            with Image.open(sources[i % len(sources)]) as photo:
                image = photo.convert("RGB").resize((320, 240), Image.BILINEAR)
        else:
            image = synthetic_photo(rng)
        image.save(folder / f"photo_{i:06d}.jpg", quality=85)


def link_copy(source, target):
    """A fresh folder whose files are hard links to `source`'s (cheap; moving them is real)."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        os.link(path, target / path.name)
    return target


def fallback_compact(image_size, n_classes):
    """A small batch-normalised global-pooling CNN, used only if classifier/model.py is absent."""
    import keras
    from keras import layers
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    for filters in (24, 32, 64, 128, 256):
        x = layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D(name="features")(x)
    outputs = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs)


def default_width():
    """The compact network's default channel multiplier (1 where model.py predates it)."""
    try:
        from classifier.model import ARCH_DEFAULTS
    except ImportError:
        return 1.0
    return ARCH_DEFAULTS["compact"].get("width", 1.0)


def build_run(folder, arch, image_size, fit, flip_average=False, width=None):
    """Write an untrained run folder for `arch` ("seed" or "compact", at channel multiplier
    `width`, default the arch's); return its path."""
    from classifier.inference import write_classes_json
    try:
        from classifier.model import build_model
        wider = {"width": width} if width is not None else {}  # older model.py has no width
        model = build_model(arch, image_size, len(VIEWS), **wider)
        source = "classifier/model.py"
    except ImportError:
        if arch == "seed":
            raise
        model = fallback_compact(image_size, len(VIEWS))
        source = "benchmark fallback"
    folder.mkdir(parents=True)
    model.save(folder / "model.keras")
    write_classes_json(folder, VIEWS, image_size, fit, flip_average=flip_average)
    return folder, source


def seed_method(run_dir, paths, out_dir):
    """The seed's loop: load_img + predict + move, one image at a time; (images/s, CPU s/img)."""
    import keras
    model = keras.models.load_model(run_dir / "model.keras", compile=False)
    size = model.input_shape[1]
    for name in VIEWS:
        (out_dir / name).mkdir(parents=True, exist_ok=True)
    model.predict(np.zeros((1, size, size, 3), np.float32), verbose=0)
    start, cpu = time.perf_counter(), cpu_seconds()
    for path in paths:
        image = keras.utils.img_to_array(keras.utils.load_img(path, target_size=(size, size)))
        probs = model.predict(image[None], verbose=0)[0]
        shutil.move(str(path), out_dir / VIEWS[int(np.argmax(probs))] / path.name)
    return len(paths) / (time.perf_counter() - start), (cpu_seconds() - cpu) / len(paths)


def stage_rates(classifier, paths, batch_size, flip_average):
    """Decoding alone and prediction alone, images/s."""
    tf = quiet_tensorflow()
    dataset = classifier.dataset(paths, batch_size)
    start, count = time.perf_counter(), 0
    for images, _, _ in dataset:
        count += len(images)
    decode = count / (time.perf_counter() - start)
    batch = tf.constant(next(iter(dataset))[0])  # real photos: how sure the model is matters
    classifier.predict(batch, flip_average=flip_average)
    rounds = max(2, len(paths) // batch_size)
    start = time.perf_counter()
    for _ in range(rounds):
        classifier.predict(batch, flip_average=flip_average)
    predict = rounds * batch_size / (time.perf_counter() - start)
    return decode, predict


def measure_sort(run_dir, photos, work, label, batch_size, flip_average=None):
    """Sort a hard-linked copy of `photos` with the real sort; (images/s, CPU s/img, result,
    classifier)."""
    from classifier.inference import load_classifier
    from classifier.sorting import sort_folder
    classifier = load_classifier(run_dir)
    warm = link_copy(photos, work / f"{label}_warmup")
    for path in list(warm.iterdir())[batch_size * 2:]:
        path.unlink()
    sort_folder(classifier, warm, threshold=0.5, batch_size=batch_size, flip_average=flip_average)
    folder = link_copy(photos, work / label)
    cpu = cpu_seconds()
    result = sort_folder(classifier, folder, threshold=0.5, batch_size=batch_size,
                         flip_average=flip_average)
    cpu_per_image = (cpu_seconds() - cpu) / result.processed
    return result.images_per_second, cpu_per_image, result, classifier


def second_pass_share(classifier, paths, batch_size):
    """Share of `paths` whose own calibrated confidence is below the model's flip cut-off
    (the photos that flip averaging predicts twice)."""
    unsure = total = 0
    for images, _, ok in classifier.dataset(paths, batch_size):
        probs = classifier.predict(images.numpy()[ok.numpy()], flip_average=False)
        unsure += int((probs.max(axis=1) < classifier.flip_average_below).sum())
        total += len(probs)
    return unsure / max(total, 1)


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=2000,
                        help="photos to sort (default: 2000)")
    parser.add_argument("--baseline-images", type=int, default=150,
                        help="photos the slow seed loop sorts (default: 150)")
    parser.add_argument("--source", type=Path, default=None,
                        help="folder of real photos to resize to 320x240 (default: synthetic)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="sort batch size (default: 256)")
    parser.add_argument("--model", type=Path, default=Path("classifier/pretrained"),
                        help="trained run folder measured as it ships; 'none' skips it "
                             "(default: classifier/pretrained)")
    parser.add_argument("--widths", default="",
                        help="more widths of the compact network to sort with (train_model.py "
                             "--width), comma-separated, e.g. 1.5,2 (default: none)")
    parser.add_argument("--work", type=Path, default=None,
                        help="scratch folder (default: a temporary folder, removed after)")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the benchmark and print its table."""
    args = parse_args(argv)
    quiet_tensorflow()
    work = Path(tempfile.mkdtemp(prefix="sort_speed_", dir=args.work))
    try:
        photos = work / "photos"
        make_photos(photos, args.images, args.source)
        seed_run, _ = build_run(work / "seed_run", "seed", 150, "stretch")
        compact_run, source = build_run(work / "compact_run", "compact", 112, "pad")
        print(f"{args.images} photos 320x240, {os.cpu_count()} CPU cores, batch "
              f"{args.batch_size}; default network from {source}")

        baseline_paths = sorted(link_copy(photos, work / "seed_loop").iterdir())
        baseline, baseline_cpu = seed_method(seed_run, baseline_paths[:args.baseline_images],
                                             work / "seed_loop_out")
        rows = [("seed method: load_img + predict per image (2021 net, 150 px)", baseline,
                 baseline_cpu, None)]
        runs = [(f"sort, default network (112 px, width {default_width():g})", compact_run,
                 None),
                ("sort, default network, flip averaging every photo", compact_run, True),
                ("sort, 2021 network (150 px)", seed_run, None)]
        for width in filter(None, args.widths.split(",")):
            wide_run, _ = build_run(work / f"compact_width_{width}", "compact", 112, "pad",
                                    width=float(width))
            runs.append((f"sort, compact network at --width {width}", wide_run, None))
        shipped = args.model if str(args.model) != "none" and args.model.is_dir() else None
        if shipped:
            runs.append((f"sort, shipped model ({shipped}) as it ships", shipped, None))
        paths = sorted(photos.iterdir())
        for label, run, flip in runs:
            name = f"run{len(rows)}"
            rate, cpu, result, classifier = measure_sort(run, photos, work, name,
                                                         args.batch_size, flip)
            decode, predict = stage_rates(classifier, paths, args.batch_size, flip)
            limit = "decoding" if decode < predict else "prediction"
            stages = f"decode alone {decode:,.0f}/s, predict alone {predict:,.0f}/s: {limit} limits"
            if run is shipped and classifier.flip_average:
                share = second_pass_share(classifier, paths, args.batch_size)
                stages += (f"; flip averaging below confidence "
                           f"{classifier.flip_average_below:.2f}: {share:.1%} of photos "
                           f"predicted twice")
            rows.append((label, rate, cpu, stages))
        cores = os.cpu_count()
        print(f"{'method':<62}{'images/s':>9}{'vs seed':>8}{'CPU ms/img':>11}"
              f"{f'{cores}-core cap.':>12}{'vs seed':>8}")
        for label, rate, cpu, stages in rows:
            capacity = cores / cpu
            print(f"{label:<62}{rate:>9,.0f}{rate / baseline:>7.1f}x{cpu * 1e3:>11.2f}"
                  f"{capacity:>12,.0f}{baseline_cpu / cpu:>7.1f}x")
            if stages:
                print(f"{'':<4}{stages}")
        print(f"({cores}-core capacity = cores / CPU time per image: the rate on {cores} cores "
              "not shared with other work; images/s is the wall-clock rate of this run)")
        load = os.getloadavg()[0]
        if load > cores:
            print(f"note: load average {load:.1f} on {cores} cores: other processes compete, "
                  "wall-clock rates are low; CPU-time figures are the fairer ones")
        for label, rate, cpu, _ in [rows[1]] + ([rows[-1]] if shipped else []):
            best = max(rate, cores / cpu)
            ratio = min(rate / baseline, baseline_cpu / cpu)
            print(f"target: >= 800 images/s and >= 30x the seed method, {label}: "
                  f"{'met' if best >= 800 and ratio >= 30 else 'NOT met'} "
                  f"({rate:,.0f} images/s wall, {cores / cpu:,.0f} by CPU time, "
                  f"{rate / baseline:.1f}x / {baseline_cpu / cpu:.1f}x the seed method)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    run_main(main)
