"""Train the viewpoint classifier on labelled view folders and write a run folder.

Examples:
  python classifier/train_model.py --data data/synthetic --out classifier/models/synthetic
  python classifier/train_model.py --data ../shared/data/stanford-views --add data/synthetic \\
      --out classifier/models/real
  python classifier/train_model.py --data my_views --validation-split 0.15 --arch seed \\
      --out classifier/models/seed_run
  python classifier/train_model.py --out classifier/models/synthetic --resume
  python classifier/train_model.py --data data/labelled --init classifier/pretrained \\
      --out classifier/models/finetuned

--init RUN fine-tunes a trained run (e.g. classifier/pretrained) on your own labelled photos
(the labelling page's export: train/ and validation/ view folders): its network, image size,
fit and classes carry over (views your data adds get fresh output rows), with fine-tuning
defaults: a tenth of the learning rate and 15 epochs.
"""

import argparse
import json
from pathlib import Path

from cargen.cli import run_main
from cargen.images import FIT_MODES

ARCH_CHOICES = ("compact", "seed")


def parse_args(argv=None):
    """The command line as a namespace."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None,
                        help="dataset folder: train/ and validation/ with one folder per view, "
                             "or a single folder of views (then split, see --validation-split); "
                             "required unless --recalibrate or --resume")
    parser.add_argument("--out", type=Path, default=None,
                        help="run folder to create (default: classifier/models/<arch>_<size>px)")
    parser.add_argument("--add", action="append", default=[], type=Path, metavar="DIR",
                        help="more labelled view folders mixed into the training set; a dataset "
                             "with train/ and validation/ adds both (validation measured per "
                             "source in the report); repeatable (default: none)")
    parser.add_argument("--validation-split", type=float, default=None,
                        help="share of a single folder of views kept for validation, stratified "
                             "and seeded (default: 0.15 when --data has no validation/)")
    parser.add_argument("--init", type=Path, default=None, metavar="RUN",
                        help="start from this trained run's weights and fine-tune (its network, "
                             "image size, fit and classes carry over; default: train from "
                             "scratch)")
    parser.add_argument("--arch", choices=ARCH_CHOICES, default=None,
                        help="network: compact (default, batch-normalised small CNN) or seed "
                             "(the 2021 network: 3 conv + 512 dense, RMSprop); with --init, "
                             "the run's")
    parser.add_argument("--width", type=float, default=None,
                        help="channel multiplier of the compact network, 0.25 to 4 (default: "
                             "1.5, 0.37 M parameters; 1 gives 0.17 M; with --init, the run's)")
    parser.add_argument("--image-size", type=int, default=None,
                        help="square input size in pixels, at least 32 (default: 112 for "
                             "compact, 150 for seed; with --init, the run's)")
    parser.add_argument("--fit", choices=FIT_MODES, default=None,
                        help="how a photo is made square: pad (whole photo, borders filled "
                             "with its edge colour), crop or stretch (default: pad; with "
                             "--init, the run's)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="maximum epochs (default: 40; 15 with --init)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default: 32)")
    parser.add_argument("--learning-rate", type=float, default=None,
                        help="peak learning rate (default: 3e-3 AdamW with warm-up and cosine "
                             "decay for compact, 1e-3 RMSprop for seed; a tenth of that with "
                             "--init)")
    parser.add_argument("--freeze-batch-norm", action="store_true",
                        help="keep the batch-normalisation statistics and scales fixed "
                             "(default: off)")
    parser.add_argument("--weight-decay", type=float, default=1e-4,
                        help="AdamW weight decay for compact (default: 1e-4)")
    parser.add_argument("--label-smoothing", type=float, default=0.1,
                        help="label smoothing of the loss (default: 0.1)")
    parser.add_argument("--class-weight", choices=("none", "balanced"), default="balanced",
                        help="balanced weighs every view equally whatever its photo count "
                             "(default: balanced)")
    parser.add_argument("--no-flip", dest="flip", action="store_false",
                        help="turn off horizontal flips (by default a photo is mirrored with "
                             "probability 0.5 and its label swapped left<->right)")
    parser.add_argument("--augment", type=float, default=1.0,
                        help="strength of rotation/shift/zoom/contrast/brightness/saturation "
                             "augmentation, 0 = off (default: 1.0)")
    parser.add_argument("--domain-augment", type=float, default=0.3,
                        help="strength of the photo-condition augmentation (car smaller, "
                             "off-centre or cut by the border on studio, plain or busy "
                             "backgrounds; text and watermark overlays; colour casts, blur, "
                             "noise, JPEG artefacts); scales every probability, 0 = off "
                             "(default: 0.3)")
    parser.add_argument("--outliers", type=float, default=0.15,
                        help="share of every batch replaced by scrambled mosaics of photo "
                             "pieces labelled `other` (outlier exposure), used only when the "
                             "data has an `other` class; 0 = off (default: 0.15)")
    parser.add_argument("--no-flip-average", dest="flip_average", action="store_false",
                        help="do not average predictions over the mirrored photo at test time "
                             "(default: averaging on)")
    parser.add_argument("--flip-average-below", type=float, default=0.9,
                        help="average over the mirrored photo only when the photo's own "
                             "calibrated confidence is below this; sure photos skip the "
                             "second pass, 1 = every photo (default: 0.9)")
    parser.add_argument("--holdout", type=float, default=0.1,
                        help="share of training photos held back to fit the calibration "
                             "temperature, 0 = no calibration (default: 0.1)")
    parser.add_argument("--patience", type=int, default=10,
                        help="early stopping: epochs without a better validation loss "
                             "(default: 10)")
    parser.add_argument("--threshold", type=float, default=0.70,
                        help="confidence threshold used in the report (default: 0.70)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--resume", action="store_true",
                        help="continue a killed run in --out from its last finished epoch, "
                             "with the options it was started with (give none but --out, or "
                             "the same ones)")
    parser.add_argument("--recalibrate", action="store_true",
                        help="for a finished run in --out: fit the temperature and write the "
                             "report again with the test-time options given here "
                             "(--no-flip-average, --flip-average-below, --threshold), keeping "
                             "the trained model; data and split come from its options.json")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the resolved options and exit")
    args = parser.parse_args(argv)
    if args.data is None and not (args.recalibrate or args.resume):
        parser.error("the following arguments are required: --data")
    if args.recalibrate and args.out is None:
        parser.error("--recalibrate needs --out (the finished run folder)")
    if args.resume and args.data is None and args.out is None:
        parser.error("--resume without --data needs --out (the run folder to continue)")
    return args


def main(argv=None):
    """Train and report; returns the exit status."""
    args = parse_args(argv)
    from classifier.training import resolve_options, train
    options = vars(args).copy()
    dry_run = options.pop("dry_run")
    if options["out"] is None:
        resolved = resolve_options({**options, "out": "."})
        options["out"] = (Path("classifier/models")
                          / f"{resolved['arch']}_{resolved['image_size']}px")
    if dry_run:
        print(json.dumps(resolve_options(options), indent=2))
        return 0
    train(options)
    return 0


if __name__ == "__main__":
    run_main(main)
