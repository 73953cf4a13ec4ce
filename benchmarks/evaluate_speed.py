"""Speed of generator evaluation (generator/quality.py): 1,000 generated images in < 60 s.

Builds, in a temporary folder, the demo-sized networks untrained (speed does not depend on the
weights): a 64 px DCGAN generator (generator.networks.build_generator) and the default
`compact` 112 px viewpoint classifier (classifier.model), unless --model / --classifier name
trained ones, and writes --real synthetic 320x240 jpgs as the real photos. Then times, in the
same run: one image at a time through the same code (batch size 1 on --baseline-n generated
and real images, extrapolated: the baseline) and the batched evaluation of --n generated
images against all real ones (batch 128). Prints seconds, images/s and the ratio.

  python benchmarks/evaluate_speed.py
  python benchmarks/evaluate_speed.py --model generator/models/RUN \\
      --classifier classifier/models/NAME
"""

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse  # noqa: E402

from cargen.cli import quiet_tensorflow, run_main  # noqa: E402

TARGET_SECONDS = 60.0


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="generated images (default: 1000)")
    parser.add_argument("--real", type=int, default=500,
                        help="synthetic real photos to write and read (default: 500)")
    parser.add_argument("--baseline-n", type=int, default=50,
                        help="generated images for the one-at-a-time baseline (default: 50)")
    parser.add_argument("--model", default=None,
                        help="a trained generator (run folder or file) instead of an untrained "
                             "64 px one (default: none)")
    parser.add_argument("--classifier", default=None,
                        help="a trained classifier run folder instead of an untrained compact "
                             "112 px one (default: none)")
    return parser.parse_args(argv)


def write_real_pictures(folder, count):
    """`count` synthetic 320x240 jpgs (the benchmark's stand-in for real photos)."""
    from prepare_speed import synthetic_picture
    paths = []
    for i in range(count):
        paths.append(Path(folder) / f"real_{i:04d}.jpg")
        synthetic_picture(i).save(paths[-1], quality=90)
    return paths


def default_classifier(folder):
    """An untrained `compact` 112 px classifier saved as a run folder."""
    from cargen.views import VIEWS
    from classifier.inference import write_classes_json
    from classifier.model import build_model
    build_model("compact", 112, len(VIEWS)).save(Path(folder) / "model.keras")
    write_classes_json(folder, VIEWS, 112, "pad")
    return folder


def main(argv=None):
    """Time the baseline and the batched evaluation; print the figures."""
    args = parse_args(argv)
    quiet_tensorflow()
    from classifier.inference import load_classifier
    from generator.networks import build_generator
    from generator.quality import evaluate_generator, generated_statistics, real_statistics
    from generator.sampling import load_generator, wrap_model
    with tempfile.TemporaryDirectory() as tmp:
        real_paths = write_real_pictures(tmp, args.real)
        classifier = load_classifier(args.classifier or default_classifier(tmp))
        generator = (load_generator(args.model) if args.model
                     else wrap_model(build_generator(latent_dim=100, image_size=64)))
        view = classifier.classes[0]
        print(f"generator {generator.image_size}px latent {generator.latent_dim}; classifier "
              f"{classifier.image_size}px, flip averaging {classifier.flip_average}; "
              f"{len(real_paths)} real 320x240 jpgs")
        timed(lambda: generated_statistics(generator, classifier, view, 4, batch_size=1))
        real_seconds = timed(lambda: real_statistics(classifier, real_paths[:args.baseline_n],
                                                     view, batch_size=1))
        generated_seconds = timed(lambda: generated_statistics(
            generator, classifier, view, args.baseline_n, batch_size=1))
        baseline = (generated_seconds * args.n + real_seconds * len(real_paths)) / args.baseline_n
        timed(lambda: generated_statistics(generator, classifier, view, 256, batch_size=128))
        result = evaluate_generator(generator, classifier, real_paths, view, args.n,
                                    batch_size=128)
    seconds = result["seconds"]
    print(f"one image at a time (baseline, from {args.baseline_n} of each): {baseline:.1f} s "
          f"for {args.n} generated + {len(real_paths)} real")
    print(f"batched: {args.n} generated + {result['n_real']} real images in {seconds:.1f} s "
          f"({args.n / seconds:.0f} generated/s); target < {TARGET_SECONDS:.0f} s: "
          f"{'met' if seconds < TARGET_SECONDS else 'NOT met'}")
    print(f"speed-up over the baseline: {baseline / seconds:.1f}x")


def timed(function):
    """Seconds one call takes."""
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


if __name__ == "__main__":
    run_main(main)
