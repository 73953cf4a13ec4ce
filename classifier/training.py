"""Training a viewpoint classifier into a run folder (the loop behind `train_model.py`).

A run folder ends up holding `model.keras`, `classes.json`, `options.json`, `history.csv`,
`curves.png`, `confusion.png` and `report.json`; `backup/` exists only while training runs, so a
killed run continues with `--resume`.
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from cargen.cli import UsageError, quiet_tensorflow
from cargen.images import FIT_MODES
from cargen.run_options import check_same_options
from cargen.safe_files import replace_atomically
from cargen.safe_files import write_json as _write_json
from classifier import fine_tuning, training_data
from classifier.augmentation import DomainAugmentation
from classifier.calibration import MIN_CALIBRATION_PHOTOS, chosen_temperature
from classifier.evaluation import (
    figures_by_source,
    labelled_probabilities,
    predict_files,
    report_from_probabilities,
)
from classifier.inference import MODEL_FILE, ViewClassifier, load_classifier, write_classes_json
from classifier.model import ARCH_DEFAULTS, ARCHS, build_model, multiply_adds
from classifier.report import format_report, plot_confusion, plot_curves

tf = quiet_tensorflow()
import keras  # noqa: E402

OPTIONS_FILE = "options.json"
HISTORY_FILE = "history.csv"
REPORT_FILE = "report.json"
BACKUP_DIR = "backup"
TIME_FILE = "training_time.json"  # in BACKUP_DIR: the time of the epochs a resume continues
TEST_TIME_OPTIONS = ("flip_average", "flip_average_below", "threshold")
# What is trained: a resumed run must have its own values (test-time options may change).
TRAINING_OPTIONS = ("data", "add", "validation_split", "init", "arch", "width", "image_size",
                    "fit", "epochs", "batch_size", "learning_rate", "freeze_batch_norm",
                    "weight_decay", "label_smoothing", "class_weight", "flip", "augment",
                    "domain_augment", "outliers", "holdout", "patience", "seed")
PATH_OPTIONS = ("data", "add", "init")
FIT_KEYS = ("training_seconds", "train_images_per_second", "epochs_run", "parameters",
            "multiply_adds", "skipped_files")
MIN_IMAGE_SIZE = 32


def resolve_options(options):
    """Fill per-architecture defaults into `options` (a dict) and check the values."""
    options = dict(options)
    fine_tune = bool(options.get("init"))
    if fine_tune:
        fine_tuning.inherit_options(options, fine_tuning.init_run_info(options["init"]))
    options["arch"] = options.get("arch") or "compact"
    if options["arch"] not in ARCHS:
        raise UsageError(f"unknown --arch {options['arch']!r}; choose one of {', '.join(ARCHS)}")
    defaults = ARCH_DEFAULTS[options["arch"]]
    options["width"] = float(defaults["width"] if options.get("width") is None
                             else options["width"])
    if options["width"] != defaults["width"] and options["arch"] != "compact":
        raise UsageError(f"--width is for the compact network; {options['arch']} has one width")
    if not 0.25 <= options["width"] <= 4.0:
        raise UsageError(f"--width {options['width']:g} is out of range (0.25 to 4)")
    if options.get("image_size") is None:
        options["image_size"] = defaults["image_size"]
    if options.get("learning_rate") is None:
        share = fine_tuning.FINE_TUNE_DEFAULTS["learning_rate_share"] if fine_tune else 1.0
        options["learning_rate"] = defaults["learning_rate"] * share
    if options.get("epochs") is None:
        options["epochs"] = fine_tuning.FINE_TUNE_DEFAULTS["epochs"] if fine_tune else 40
    options["freeze_batch_norm"] = bool(options.get("freeze_batch_norm"))
    options["fit"] = options.get("fit") or "pad"
    options["init"] = str(options["init"]) if fine_tune else None
    if options["image_size"] < MIN_IMAGE_SIZE:
        raise UsageError(f"--image-size {options['image_size']} is too small "
                         f"(at least {MIN_IMAGE_SIZE})")
    if options["fit"] not in FIT_MODES:
        raise UsageError(f"--fit must be one of {', '.join(FIT_MODES)}")
    if options.get("validation_split") is not None and not 0 < options["validation_split"] < 1:
        raise UsageError("--validation-split must be between 0 and 1")
    if not 0 < options.setdefault("flip_average_below", 1.0) <= 1:
        raise UsageError("--flip-average-below must be in (0, 1]")
    if not 0 <= options["holdout"] < 1:
        raise UsageError("--holdout must be between 0 and 1 (0 turns calibration off)")
    if options.get("domain_augment", 0.0) < 0:
        raise UsageError("--domain-augment must be at least 0 (0 turns it off)")
    if not 0 <= options.get("outliers", 0.0) < 1:
        raise UsageError("--outliers must be between 0 and 1")
    if options["epochs"] < 1 or options["batch_size"] < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    options["data"] = str(options["data"])
    options["add"] = [str(p) for p in options.get("add") or []]
    options["out"] = str(options["out"])
    return options


def _prepare_run_dir(run_dir, resume):
    """Create `run_dir`; refuse to train over a finished or foreign run unless resuming."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{run_dir}: exists and is not a folder")
    if run_dir.is_dir() and any(run_dir.iterdir()) and not resume:
        raise UsageError(f"{run_dir}: already holds a run; pass --resume to continue it or "
                         f"choose another --out")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


class EpochLine(keras.callbacks.Callback):
    """Prints one line per epoch: losses, accuracies, images/s and elapsed time.

    With `time_file`, the training time and images so far are kept there after every epoch
    and read back on start, so a resumed run's figures count the epochs before the kill.
    """

    def __init__(self, epochs, images_per_epoch, stream=None, time_file=None):
        super().__init__()
        self.epochs, self.images_per_epoch = epochs, images_per_epoch
        self.stream = stream or sys.stdout
        self.time_file = Path(time_file) if time_file else None
        before = {}
        if self.time_file and self.time_file.is_file():  # written whole (atomic rename)
            before = json.loads(self.time_file.read_text())
        self.train_seconds = float(before.get("train_seconds", 0.0))
        self.train_images = int(before.get("train_images", 0))
        self.seconds_before = float(before.get("seconds", 0.0))
        self._start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.perf_counter()
        self._test_start = None

    def on_test_begin(self, logs=None):
        self._test_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        now = time.perf_counter()
        seconds = (self._test_start or now) - self._epoch_start
        self.train_seconds += seconds
        self.train_images += self.images_per_epoch
        rate = self.images_per_epoch / max(seconds, 1e-9)
        line = (f"epoch {epoch + 1:>3}/{self.epochs}  loss {logs.get('loss', float('nan')):.3f} "
                f"acc {logs.get('accuracy', float('nan')):.1%}  "
                f"val_loss {logs.get('val_loss', float('nan')):.3f} "
                f"val_acc {logs.get('val_accuracy', float('nan')):.1%}  "
                f"{rate:,.0f} img/s  {self.elapsed(now):,.0f} s")
        print(line, file=self.stream, flush=True)
        if self.time_file:
            self.time_file.parent.mkdir(parents=True, exist_ok=True)
            _write_json(self.time_file, {"seconds": self.elapsed(now),
                                         "train_seconds": self.train_seconds,
                                         "train_images": self.train_images})

    def elapsed(self, now=None):
        """Seconds of training so far, the runs before a resume included."""
        return self.seconds_before + (now or time.perf_counter()) - self._start


def _optimizer(options, steps_per_epoch):
    if options["arch"] == "seed":
        return keras.optimizers.RMSprop(options["learning_rate"])
    total = max(options["epochs"] * steps_per_epoch, 1)
    warmup = min(2 * steps_per_epoch, total // 10)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=options["learning_rate"] * 0.1, decay_steps=total - warmup,
        warmup_target=options["learning_rate"], warmup_steps=warmup, alpha=0.01)
    return keras.optimizers.AdamW(schedule, weight_decay=options["weight_decay"])


def _fit(options, run_dir, classes, train_cached, validation_cached, n_train):
    keras.utils.set_random_seed(options["seed"])
    flip = options["flip"]
    weights = None
    if options["class_weight"] == "balanced":
        weights = training_data.balanced_class_weights(options["_train_views"], classes, flip)
    augment = training_data.augmentation_layers(options["seed"], options["augment"])
    domain = None
    if options.get("domain_augment", 0.0) > 0:
        domain = DomainAugmentation(options["image_size"], options["domain_augment"],
                                    options["seed"])
    full_batches = n_train // options["batch_size"]
    train_stream = training_data.training_pipeline(
        train_cached, classes, options["batch_size"], flip=flip, augment=augment,
        class_weights=weights, outlier_share=options.get("outliers", 0.0), seed=options["seed"],
        domain=domain, drop_remainder=full_batches > 0)
    validation_stream = training_data.evaluation_pipeline(validation_cached, len(classes),
                                                          options["batch_size"])
    steps = max(full_batches, 1)
    model = build_model(options["arch"], options["image_size"], len(classes),
                        options["width"])
    if options.get("init"):
        new = fine_tuning.initialise_from(model, options["init"], classes)
        print(f"starting from {options['init']}"
              + (f"; new classes {', '.join(new)} start fresh" if new else ""))
    if options.get("freeze_batch_norm"):
        fine_tuning.freeze_batch_norm(model)
    model.compile(optimizer=_optimizer(options, steps),
                  loss=keras.losses.CategoricalCrossentropy(
                      label_smoothing=options["label_smoothing"]),
                  metrics=["accuracy"])
    print(f"model {options['arch']}"
          + (f" width {options['width']:g}" if options["arch"] == "compact" else "")
          + f": {model.count_params():,} parameters, "
          f"{multiply_adds(model) / 1e6:,.1f} M multiply-adds per image at "
          f"{options['image_size']} px; classes {', '.join(classes)}")
    trained_per_epoch = full_batches * options["batch_size"] or n_train
    epoch_line = EpochLine(options["epochs"], trained_per_epoch,
                           time_file=run_dir / BACKUP_DIR / TIME_FILE)
    callbacks = [
        keras.callbacks.BackupAndRestore(str(run_dir / BACKUP_DIR)),
        keras.callbacks.CSVLogger(str(run_dir / HISTORY_FILE), append=True),
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=options["patience"],
                                      restore_best_weights=True),
        epoch_line,
    ]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*shuffle=True.*")
        warnings.filterwarnings("ignore", message=".*ran out of data.*")
        model.fit(train_stream, epochs=options["epochs"], validation_data=validation_stream,
                  callbacks=callbacks, verbose=0)
    seconds = epoch_line.elapsed()
    replace_atomically(run_dir / MODEL_FILE, model.save)
    return model, {"training_seconds": round(seconds, 1),
            "train_images_per_second": round(epoch_line.train_images /
                                             max(epoch_line.train_seconds, 1e-9), 1),
            "epochs_run": len(keras_history_epochs(run_dir)),
            "parameters": int(model.count_params()),
            "multiply_adds": multiply_adds(model)}


def keras_history_epochs(run_dir):
    """Epoch numbers logged in `run_dir/history.csv` (empty if none)."""
    path = Path(run_dir) / HISTORY_FILE
    if not path.is_file():
        return []
    lines = path.read_text().splitlines()[1:]
    return [line.split(",")[0] for line in lines if line.strip()]


def train(options):
    """Train a classifier as `options` say and fill its run folder; returns the report dict.

    With `resume` and no `data`, the run in `out` continues with the options it was started
    with; with `data`, the training options must be the run's own.
    """
    run_dir = Path(options["out"])
    if options.get("resume") and not options.get("recalibrate"):
        if (run_dir / REPORT_FILE).is_file():
            print(f"{run_dir}: run already complete (report.json exists); nothing to do")
            return json.loads((run_dir / REPORT_FILE).read_text())
        options = _resumed_options(options, run_dir)
    options = resolve_options(options)
    if options.get("recalibrate"):
        return recalibrate(options)
    train_files, holdout_files, validation_files, classes = _split(options)
    if options.get("init"):  # fail before decoding the photos, not after
        fine_tuning.initialise_from(build_model(options["arch"], options["image_size"],
                                                len(classes), options["width"]),
                                    options["init"], classes)
    run_dir = _prepare_run_dir(run_dir, options["resume"])
    saved = {key: value for key, value in options.items() if not key.startswith("_")}
    saved["classes"] = classes
    saved["train_counts"] = train_files.counts()
    saved["holdout_counts"] = holdout_files.counts()
    saved["validation_counts"] = validation_files.counts()
    _write_json(run_dir / OPTIONS_FILE, saved)
    print(f"training images: {len(train_files)} "
          f"({', '.join(f'{v} {n}' for v, n in train_files.counts().items())}); "
          f"calibration {len(holdout_files)}; validation {len(validation_files)}")

    fit_info, model = {}, None
    if not (run_dir / MODEL_FILE).is_file():
        size, fit = options["image_size"], options["fit"]
        train_cached, failed = training_data.decoded_dataset(train_files, classes, size, fit,
                                                             "training")
        validation_known = _known(validation_files, classes)
        validation_cached, failed_validation = training_data.decoded_dataset(
            validation_known, classes, size, fit, "validation")
        failed += failed_validation
        for path in failed:
            print(f"skipped unreadable image: {path}")
        n_train = len(train_files) - (len(failed) - len(failed_validation))
        if n_train <= 0:
            raise UsageError(f"{options['data']}: none of the training images could be read")
        options["_train_views"] = train_files.views
        model, fit_info = _fit(options, run_dir, classes, train_cached, validation_cached, n_train)
        fit_info["skipped_files"] = failed
    return finish_run(run_dir, options, classes, holdout_files, validation_files, fit_info,
                      model)


def _comparable(key, value):
    if key in PATH_OPTIONS and value is not None:
        paths = [value] if isinstance(value, (str, Path)) else value
        return [str(Path(path).resolve()) for path in paths]
    return value


def _resumed_options(options, run_dir):
    """`options` for continuing the run in `run_dir`: its saved ones when no --data was given,
    else `options` once checked against them (a one-line error names what differs)."""
    options_file = run_dir / OPTIONS_FILE
    if not options_file.is_file():
        if options.get("data") is None:
            raise UsageError(f"{run_dir}: no run to resume here (no {OPTIONS_FILE})")
        return options
    try:
        saved = json.loads(options_file.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"{options_file}: unreadable ({error})") from None
    if options.get("data") is None:
        kept = {key: saved[key] for key in TRAINING_OPTIONS if key in saved}
        print(f"resuming {run_dir} with the options in its {OPTIONS_FILE}")
        return {**options, **kept}
    check_same_options(options_file, saved, resolve_options(options),
                       [key for key in TRAINING_OPTIONS if key in saved],
                       normalise=_comparable, hint=", or none but --out")
    return options


def _split(options):
    """(training, calibration hold-out, validation `LabelledFiles`, class list) of a run."""
    train_files, validation_files = training_data.find_dataset(
        options["data"], options["add"], options["validation_split"], options["seed"])
    classes = training_data.class_list(train_files.views, options["flip"])
    if options.get("init"):
        classes = fine_tuning.carried_classes(
            fine_tuning.init_run_info(options["init"])["classes"], classes)
    holdout_files = training_data.LabelledFiles()
    if options["holdout"] > 0:
        train_files, holdout_files = training_data.stratified_split(
            train_files, options["holdout"], options["seed"] + 1)
    unknown = sorted(set(validation_files.views) - set(classes))
    if unknown:
        print(f"note: validation views {', '.join(unknown)} have no training images; "
              f"they count as errors")
    return train_files, holdout_files, validation_files, classes


def recalibrate(options):
    """Calibrate and report a finished run again with the test-time options in `options`
    (flip averaging, its confidence cut-off, the threshold), keeping the trained model and
    its training figures; the data and split come from the run's options.json."""
    run_dir = Path(options["out"])
    for name in (MODEL_FILE, OPTIONS_FILE, REPORT_FILE):
        if not (run_dir / name).is_file():
            raise UsageError(f"{run_dir}: --recalibrate needs a finished run ({name} missing)")
    saved = json.loads((run_dir / OPTIONS_FILE).read_text())
    for key in TEST_TIME_OPTIONS:
        saved[key] = options[key]
    saved["out"] = str(run_dir)
    saved = resolve_options(saved)
    _, holdout_files, validation_files, classes = _split(saved)
    if classes != saved.get("classes"):
        raise UsageError(f"{run_dir}: the data in options.json now gives classes {classes}, "
                         f"the model has {saved.get('classes')}")
    old_report = json.loads((run_dir / REPORT_FILE).read_text())
    fit_info = {key: old_report[key] for key in FIT_KEYS if key in old_report}
    _write_json(run_dir / OPTIONS_FILE, saved)
    return finish_run(run_dir, saved, classes, holdout_files, validation_files, fit_info)


def _known(files, classes):
    keep = [i for i, view in enumerate(files.views) if view in classes]
    return files.subset(keep)


def finish_run(run_dir, options, classes, holdout_files, validation_files, fit_info,
               model=None):
    """Calibrate on the held-back photos, write classes.json, the report and the plots.

    `model` is the trained model in memory (else `model.keras` is loaded).
    """
    extra = {"arch": options["arch"], "width": options["width"],
             "preprocessing": "decoded by cargen.images.load_square, RGB uint8 as float32 "
                              "0..255; the model rescales internally"}
    flip, below = options["flip_average"], options["flip_average_below"]
    # the temperature is fitted on every held-back photo averaged with its mirror image;
    # the confidence cut-off then skips the second pass only where it cannot matter
    info = write_classes_json(run_dir, classes, options["image_size"], options["fit"], 1.0,
                              flip, 1.0, **extra)
    classifier = ViewClassifier(model, info, run_dir) if model else load_classifier(run_dir)
    fallback, label = 1.0, "T ="
    if options.get("init"):
        fallback = float(fine_tuning.init_run_info(options["init"]).get("temperature", 1.0))
        label = "the --init run's T ="
    raw, true = None, np.zeros(0, np.int32)
    if len(holdout_files):
        raw, true_views, _ = labelled_probabilities(classifier, holdout_files)
        true = np.array([classes.index(v) for v in true_views])
    temperature, calibration = chosen_temperature(raw, true, fallback, label)
    if 0 < len(true) < MIN_CALIBRATION_PHOTOS:
        print(f"note: {calibration}")
    write_classes_json(run_dir, classes, options["image_size"], options["fit"], temperature,
                       flip, below, **extra, calibration=calibration)
    classifier.temperature, classifier.flip_average_below = temperature, below
    calibrated, kept, failed = predict_files(classifier, validation_files.paths)
    kept_files = validation_files.subset(kept)
    report = report_from_probabilities(calibrated, kept_files.views, classes, temperature,
                                       options["threshold"])
    sources = training_data.validation_sources(options["data"], options["add"])
    if len(sources) > 1:
        report["per_source"] = figures_by_source(calibrated, kept_files, sources, classes,
                                                 temperature, options["threshold"])
    report["flip_average"] = flip
    report["flip_average_below"] = below
    report["unreadable_validation_files"] = failed
    report.update(fit_info)
    report["data"] = options["data"]
    plot_confusion(report, run_dir / "confusion.png", title=f"{run_dir.name} validation")
    if (run_dir / HISTORY_FILE).is_file():
        plot_curves(run_dir / HISTORY_FILE, run_dir / "curves.png")
    _write_json(run_dir / REPORT_FILE, report)  # written last: it marks the run complete
    print(format_report(report))
    for name, row in report.get("per_source", {}).items():
        other = "" if row["other_recall"] is None else f", other recall {row['other_recall']:.1%}"
        print(f"  {name}: {row['images']} photos, accuracy {row['accuracy']:.1%}, macro-F1 "
              f"{row['macro_f1']:.3f}{other}, sorted {row['sorted_share']:.1%} "
              f"({row['sorted_right']:.1%} right)")
    print(f"temperature {temperature:.3f}: ECE {report['uncalibrated']['ece']:.3f} -> "
          f"{report['ece']:.3f}")
    print(f"run folder: {run_dir}")
    return report
