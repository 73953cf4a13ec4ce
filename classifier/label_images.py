"""Label your own photos by viewpoint in a local web page driven by the keyboard.

Starts a small web app on 127.0.0.1 and prints its address; open it in a browser. With a
model, review mode shows pages of photos the model puts in one view (most confident first):
mark the few wrong ones and accept the page with one key. Single mode shows one photo at a
time, the ones the model is least sure of first. Every decision is appended to OUT/labels.csv
the moment it is made; stop with Ctrl-C (or kill it) and start again to carry on. The photos
in INPUT are never moved or changed. --export then writes OUT/train/<view>/ and
OUT/validation/<view>/ (hard links to the originals where possible) for train_model.py.
"""

import argparse
import signal
import sys
from pathlib import Path

from cargen.cli import UsageError, run_main

REPO = Path(__file__).resolve().parents[1]

DEFAULT_MODEL = Path("classifier/pretrained")

EXAMPLES = """
examples:
  # label with the shipped model's guesses (review + single mode), export, fine-tune it
  python classifier/label_images.py --input data/pictures --out data/labelled
  python classifier/label_images.py --input data/pictures --out data/labelled --export
  python classifier/train_model.py --data data/labelled --init classifier/pretrained \\
      --out classifier/models/finetuned

  # guesses from your own run instead; or none at all (single mode only)
  python classifier/label_images.py --input data/pictures --out data/labelled \\
      --model classifier/models/finetuned
  python classifier/label_images.py --input data/pictures --out data/labelled --no-model
"""


def parse_args(argv):
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input", required=True, type=Path,
                        help="folder of photos to label (read only; not searched recursively)")
    parser.add_argument("--out", required=True, type=Path,
                        help="output folder: labels.csv, caches, and the export (created)")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model", type=Path, default=None,
                       help="classifier run folder whose guesses enable review mode (default: "
                            f"{DEFAULT_MODEL} when that folder exists, else none)")
    model.add_argument("--no-model", action="store_true",
                       help="no guesses: single mode only (default: guess with --model)")
    parser.add_argument("--port", type=int, default=8765,
                        help="port to listen on, 0 picks a free one (default: 8765)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; anything but loopback shows your photos "
                             "to the network (default: 127.0.0.1)")
    parser.add_argument("--page-size", type=int, default=24,
                        help="photos per review page (default: 24)")
    parser.add_argument("--batch-size", type=int, default=64,
                        help="photos per prediction batch (default: 64)")
    parser.add_argument("--export", action="store_true",
                        help="write OUT/train/<view>/ and OUT/validation/<view>/ from "
                             "OUT/labels.csv and exit (no web page)")
    parser.add_argument("--validation-split", type=float, default=0.2,
                        help="share of each view's photos for validation in --export "
                             "(default: 0.2)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the --export split (default: 0)")
    args = parser.parse_args(argv)
    if not 1 <= args.page_size <= 200:
        raise UsageError(f"--page-size must be between 1 and 200, not {args.page_size}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, not {args.port}")
    if not args.input.is_dir():
        raise UsageError(f"{args.input}: photo folder not found")
    if args.model is None and not args.no_model and (REPO / DEFAULT_MODEL).is_dir():
        args.model = DEFAULT_MODEL if Path.cwd() == REPO else REPO / DEFAULT_MODEL
    return args


def export(args):
    """--export: write the train/validation folders and print what went where."""
    from classifier.labeller.label_log import (
        LABELS_FILE,
        LabelStore,
        export_labels,
        training_command,
    )
    if not (args.out / LABELS_FILE).is_file():
        raise UsageError(f"{args.out / LABELS_FILE}: no labels yet; label some photos first")
    labels = LabelStore(args.out, read_only=True).labels()
    summary = export_labels(labels, args.input, args.out, args.validation_split, args.seed)
    if not summary["views"]:
        print(f"no labelled photos in {args.out / LABELS_FILE} (only skips?)")
        return 0
    print(f"{'view':<12} {'train':>7} {'validation':>11}")
    for view, (train, validation) in summary["views"].items():
        print(f"{view:<12} {train:>7} {validation:>11}")
    total_train = sum(train for train, _ in summary["views"].values())
    total_validation = sum(validation for _, validation in summary["views"].values())
    print(f"{'total':<12} {total_train:>7} {total_validation:>11}")
    if summary["missing"]:
        print(f"warning: {len(summary['missing'])} labelled photos are no longer in "
              f"{args.input}, e.g. {summary['missing'][0]}; left out", file=sys.stderr)
    how = ("hard links to the originals" if not summary["copied"] else
           f"{summary['linked']} hard links, {summary['copied']} copies")
    print(f"wrote {args.out / 'train'} and {args.out / 'validation'} ({how})")
    print(f"next: {training_command(args.out, args.model)}")
    return 0


def exposure_warning(host, input_dir):
    """The warning to print when listening on `host` shows the photos beyond this machine."""
    from classifier.labeller.app import LOOPBACK_NAMES
    if host in LOOPBACK_NAMES:
        return None
    return (f"warning: listening on {host}: anyone who can reach this machine can see the "
            f"photos in {input_dir} and change the labels")


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    """Serve the labelling page until Ctrl-C, or export with --export."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started in background
    args = parse_args(argv)
    if args.export:
        return export(args)
    from classifier.labeller.app import LOOPBACK_NAMES, create_app, serve, session_of
    classifier = None
    if args.model is not None:
        from classifier.inference import load_classifier
        print(f"loading the model in {args.model} ...", flush=True)
        classifier = load_classifier(args.model)
    loopback = args.host in LOOPBACK_NAMES
    warning = exposure_warning(args.host, args.input)
    if warning:
        print(warning, file=sys.stderr)
    app = create_app(args.input, args.out, classifier, page_size=args.page_size,
                     batch_size=args.batch_size,
                     allowed_hosts=LOOPBACK_NAMES if loopback else None)
    session = session_of(app)
    state = session.state()
    print(f"{state['total']:,} photos in {args.input}; {state['labelled']:,} labelled and "
          f"{state['skipped']:,} skipped so far ({session.store.path})")
    if classifier is not None:
        cached = session.queue.cached_predictions
        print(f"model guesses: {cached:,} from the cache, the other "
              f"{state['total'] - cached:,} are computed in the background")

    def ready(url):
        print(f"open {url} in a browser; Ctrl-C stops (every decision is saved as it is made)",
              flush=True)

    try:
        serve(app, args.host, args.port, ready)
    finally:
        session.close()
    state = session.state()
    print(f"\nstopped: {state['labelled']:,} labelled, {state['skipped']:,} skipped, "
          f"{state['open']:,} to go; labels in {session.store.path}")
    return 0


if __name__ == "__main__":
    run_main(main)
