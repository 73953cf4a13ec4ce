"""Draw new car images from a trained generator: PNGs, a grid, and a latent-space walk GIF."""

import argparse
import time
from pathlib import Path

import numpy as np

from cargen.cli import UsageError, run_main
from generator.run_folder import SAMPLES_GRID_FILE, SAMPLES_WALK_FILE

MAX_GRID_IMAGES = 100
MAX_WALKS = 16

EXAMPLES = """examples:
  python generator/generate.py --model generator/models/RUN --n 64 --out /tmp/cars --grid
  python generator/generate.py --model generator/models/RUN --n 16 --out /tmp/walk --interpolate 24
  python generator/generate.py --model generator/models/all_wgan-gp_64px_z100_b64_nc5 \\
      --view front_left --n 64 --out /tmp/front_left --grid
  python generator/generate.py --model generator/models/all_wgan-gp_64px_z100_b64_nc5 \\
      --view all --n 8 --out /tmp/every_view --grid --interpolate 24
  python generator/generate.py --model model_saved.h5 --n 64 --out /tmp/old --grid
      (a 2021 cargen generator saved by TensorFlow 2.3 Keras)

RUN is a generator run folder such as front_left_wgan-gp_64px_z100_b64_nc5.
"""


def parse_args(argv):
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description="Generate car images with a trained generator. Writes image_NNNN.png "
                    "files, and optionally grid.png and interpolation.gif, into --out.",
        epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True,
                        help="generator run folder (uses generator_best.keras if present, else "
                             "generator.keras), a .keras file, or a Keras 2 .h5 file such as "
                             "the 2021 cargen model_saved.h5 (required)")
    parser.add_argument("--n", type=int, default=64, help="number of images (default: 64)")
    parser.add_argument("--out", required=True, help="output folder, created if needed (required)")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the latents; the same seed gives the same images "
                             "(default: 0)")
    parser.add_argument("--grid", action="store_true",
                        help=f"also write grid.png with the first {MAX_GRID_IMAGES} images, "
                             "enlarged (default: off)")
    parser.add_argument("--interpolate", type=int, default=0, metavar="STEPS",
                        help=f"also write interpolation.gif: up to {MAX_WALKS} looping walks "
                             "through latent space (slerp), STEPS frames between consecutive "
                             "key latents (default: 0, no GIF)")
    parser.add_argument("--keyframes", type=int, default=4,
                        help="key latents per walk in the GIF (default: 4)")
    parser.add_argument("--fps", type=float, default=12.0,
                        help="GIF frames per second (default: 12)")
    parser.add_argument("--view", metavar="VIEW",
                        help="the view to draw: for a generator trained with --views one of "
                             "its views, or all (the default): every view into OUT/<view>/, "
                             "grid.png and interpolation.gif with one row per view from the "
                             "same latents; for a one-view generator only its own view "
                             "(default: all / its view)")
    parser.add_argument("--last", action="store_true",
                        help="in a run folder, use generator.keras even when "
                             "generator_best.keras exists (default: off)")
    parser.add_argument("--batch-size", type=int, default=256,
                        help="latents per generator call (default: 256)")
    args = parser.parse_args(argv)
    if args.n < 1:
        raise UsageError(f"--n must be at least 1, not {args.n}")
    if args.interpolate < 0 or (args.interpolate and args.keyframes < 2):
        raise UsageError("--interpolate must be >= 0 and --keyframes >= 2")
    if args.batch_size < 1 or args.fps <= 0:
        raise UsageError("--batch-size and --fps must be positive")
    return args


def write_images(generator, latents, view_id, out, batch_size):
    """Write image_NNNN.png for `latents` (of `view_id`) into `out` batch by batch, never all
    in memory; returns the first MAX_GRID_IMAGES pictures."""
    from generator import pictures, sampling
    out.mkdir(parents=True, exist_ok=True)
    digits = max(4, len(str(len(latents) - 1)))
    first = []
    for start_index in range(0, len(latents), batch_size):
        images = sampling.generate_pictures(
            generator, latents[start_index:start_index + batch_size], batch_size, view_id)
        for index, image in enumerate(images, start_index):
            pictures.save_png(image, out / f"image_{index:0{digits}d}.png")
        first.extend(images[:max(0, MAX_GRID_IMAGES - len(first))])
    return first


def main(argv=None):
    """Generate images, a grid and a GIF as the options say; print where they went."""
    args = parse_args(argv)
    from generator import pictures, sampling
    start = time.perf_counter()
    generator = sampling.load_generator(args.model, prefer_best=not args.last)
    views = sampling.views_to_draw(generator, args.view)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    latents = sampling.sample_latents(args.n, generator.latent_dim, args.seed)
    print(f"{generator.path}: latent {generator.latent_dim}, {generator.image_size}x"
          f"{generator.image_size}x{generator.channels}")
    every_view = generator.views is not None and len(views) > 1
    for view, view_id in views:
        folder = out / view if every_view else out
        first = write_images(generator, latents, view_id, folder, args.batch_size)
        print(f"wrote {args.n} images to {folder}/image_*.png (seed {args.seed}"
              + (f", view {view})" if view_id is not None else ")"))
    view_ids = [view_id for _, view_id in views]
    scale = pictures.grid_scale(generator.image_size)
    if args.grid:
        if every_view:  # one row per view, the same latents in every row
            columns = min(args.n, MAX_GRID_IMAGES // len(views))
            grid_latents, grid_ids = sampling.view_rows(latents[:columns], view_ids)
            first = sampling.generate_pictures(generator, grid_latents, args.batch_size, grid_ids)
        grid = pictures.image_grid(np.stack(first), columns=columns if every_view else None,
                                   scale=scale)
        if every_view:
            grid = pictures.label_rows(grid, [view for view, _ in views], background=48,
                                       colour=(230, 230, 230))
        print(f"wrote {pictures.save_png(grid, out / SAMPLES_GRID_FILE)}")
    if args.interpolate:
        walks = min(args.n, MAX_WALKS // len(views))
        path = sampling.latent_walk(walks, generator.latent_dim, args.interpolate,
                                    args.keyframes, args.seed)
        flat = path.reshape(-1, generator.latent_dim)
        if every_view:  # every frame: the walks' latents for every view, one row per view
            flat, ids = sampling.view_rows(flat, view_ids)
            order = np.arange(len(flat)).reshape(len(views), len(path), walks).transpose(1, 0, 2)
            flat, ids = flat[order.ravel()], ids[order.ravel()]
        else:
            ids = view_ids[0]
        drawn = sampling.generate_pictures(generator, flat, args.batch_size, ids)
        frames = [pictures.image_grid(frame, columns=walks, scale=scale)
                  for frame in drawn.reshape(len(path), -1, *drawn.shape[1:])]
        gif = pictures.save_gif(frames, out / SAMPLES_WALK_FILE, args.fps)
        print(f"wrote {gif} ({len(frames)} frames, {walks} walks"
              + (f" x {len(views)} views)" if every_view else ")"))
    print(f"done in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    run_main(main)
