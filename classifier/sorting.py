"""Sorting a flat folder of photos into one folder per predicted view, never losing a file.

`sort_folder` predicts every image directly inside the input folder and puts each file in
`<output>/<view>/`, or `<output>/unknown/` when its top probability is below the threshold.
Three stages overlap: tf.data decodes in parallel (cargen.pipeline, which also says why a file
could not be read), the model predicts batch by batch, and a writer thread moves or copies the
files. Files that cannot be decoded stay where they are and are recorded as errors.

Each batch's file operations go through the journal of cargen.move_journal (written ahead,
fsynced, never overwriting); then its rows are appended to the manifest `predictions.csv`
(classifier.sort_manifest). On start, what a killed run left half done is finished or forgotten,
so the same command, re-run, finishes the job. classifier.undo_sort puts everything back;
classifier.sort_summary prints the table at the end.
"""

import os
import queue
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cargen.cli import UsageError
from cargen.images import is_image_name, list_images
from cargen.move_journal import COPY
from cargen.safe_files import (
    copy_to_temporary,
    free_name,
    fsync_dir,
    moving_lock,
    remove_temporary_files,
)
from classifier.sort_manifest import (
    COPIED,
    ERROR,
    MANIFEST_NAME,
    MOVED,
    REPORT_NAME,
    UNKNOWN,
    Manifest,
    folder_counts,
    journal_path,
    open_sort_record,
    replay,
    sort_lock,
)


@dataclass
class SortResult:
    """What a sort did: per-folder counts for this run and the folder's totals."""

    output: Path
    classes: list
    counts: dict = field(default_factory=dict)       # this run: destination folder -> files
    errors: list = field(default_factory=list)       # this run: (file, reason)
    deferred: int = 0                                # destination appeared meanwhile; re-run
    vanished: int = 0                                # deleted by someone else during the run
    recovered: int = 0                               # operations finished from a killed run
    skipped: int = 0                                 # already sorted, not processed again
    seconds: float = 0.0
    stage_seconds: dict = field(default_factory=dict)
    totals: dict = field(default_factory=dict)       # whole folder: destination folder -> files
    total_errors: int = 0
    dry_run: bool = False
    mode: str = "move"
    planned: list = field(default_factory=list)      # dry run: first few (file, destination)
    interrupted: bool = False                        # dry run: a killed sort awaits a re-run

    @property
    def processed(self):
        """Images handled in this run (sorted or failed)."""
        return sum(self.counts.values()) + len(self.errors)

    @property
    def images_per_second(self):
        """This run's throughput."""
        return self.processed / self.seconds if self.seconds else 0.0


class _Writer(threading.Thread):
    """Consumes predicted batches: plans destinations, journals, moves, writes the manifest."""

    def __init__(self, result, manifest, journal, output, threshold, mode, dry_run, known_errors):
        super().__init__(daemon=True)
        self.result, self.manifest, self.journal = result, manifest, journal
        self.output, self.threshold, self.mode, self.dry_run = output, threshold, mode, dry_run
        self.known_errors = known_errors
        self.queue = queue.Queue(maxsize=2)
        self.failure = None
        self.busy_seconds = 0.0
        self._reserved = {}
        self._made = set()

    def run(self):
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            if self.failure is not None:
                continue
            start = time.perf_counter()
            try:
                self._handle(batch)
            except BaseException as error:  # re-raised in the main thread
                self.failure = error
            self.busy_seconds += time.perf_counter() - start

    def _folder(self, view):
        folder = os.path.join(self.output, view)
        if not self.dry_run and view not in self._made:
            os.makedirs(folder, exist_ok=True)
            fsync_dir(self.output)
            self._made.add(view)
        return folder

    def _handle(self, batch):
        classes = self.manifest.classes
        ops, error_rows = [], []
        reserved = self._reserved if self.dry_run else {}
        for path, probs, reason in batch:
            if reason is not None:
                self.result.errors.append((path, reason))
                if self.known_errors.get(self.manifest.relative(path)) != reason:
                    error_rows.append(self.manifest.row(path, "", ERROR, error=reason))
                continue
            top = int(np.argmax(probs))
            view = classes[top] if probs[top] >= self.threshold else UNKNOWN
            folder = self._folder(view)
            taken = reserved.setdefault(view, set())
            name = free_name(folder, os.path.basename(path), taken)
            taken.add(name)
            dst = os.path.join(folder, name)
            action = MOVED if self.mode == "move" else COPIED
            ops.append({"kind": self.mode, "src": path, "dst": dst, "view": view,
                        "row": self.manifest.row(path, dst, action, probs)})
        if self.dry_run:
            for op in ops:
                self.result.counts[op["view"]] = self.result.counts.get(op["view"], 0) + 1
                if len(self.result.planned) < 20:
                    self.result.planned.append((op["src"], op["dst"]))
            return
        if self.mode == COPY and ops:
            # Copy the batch to temporary files and make them durable with one sync, not one
            # fsync per file; each is then linked to its name (cargen.move_journal.perform).
            for op in ops:
                try:
                    op["tmp"] = copy_to_temporary(op["src"], os.path.dirname(op["dst"]),
                                                  sync=False)
                except FileNotFoundError:
                    pass  # the source vanished: perform finds out again and skips it
            os.sync()

        def record(done):
            for op in done:
                self.result.counts[op["view"]] = self.result.counts.get(op["view"], 0) + 1
            self.manifest.append([op["row"] for op in done] + error_rows)

        if ops:
            self.journal.run(ops, record, self._skipped)
        else:
            self.manifest.append(error_rows)

    def _skipped(self, op, error):
        if isinstance(error, FileExistsError):
            self.result.deferred += 1
        else:
            self.result.vanished += 1  # deleted by someone else since it was listed


def _work_list(images, manifest):
    """The `images` listed in the input folder still to sort, how many were skipped as done,
    and the {file: reason} of files already recorded as unreadable."""
    active, errors = replay(manifest)
    # A moved file that is back at its old name is a new file; a copied one is the original.
    copied = {row["file"] for row in active.values() if row["action"] == COPIED}
    todo, skipped = [], 0
    own_report = os.path.join(manifest._root, REPORT_NAME)
    for path in images:
        relative = manifest.relative(path)
        if relative in (REPORT_NAME, own_report):
            continue
        if relative in copied:
            skipped += 1
            continue
        todo.append(str(path))
    return todo, skipped, errors


def _batches(classifier, paths, batch_size, flip_average, timings):
    """Yield lists of (path, probabilities or None, error reason or None), one per batch."""
    from cargen.pipeline import images_with_reasons, prediction_batches
    iterator = iter(prediction_batches(
        images_with_reasons(paths, classifier.image_size, classifier.fit), batch_size))
    while True:
        start = time.perf_counter()
        try:
            images, indices, reasons = next(iterator)
        except StopIteration:
            return
        middle = time.perf_counter()
        images, indices, reasons = images.numpy(), indices.numpy(), reasons.numpy()
        good = np.flatnonzero(reasons == b"")
        failures = [(paths[indices[row]], None, reasons[row].decode("utf-8"))
                    for row in np.flatnonzero(reasons != b"")]
        probs = classifier.predict(images[good], flip_average=flip_average) if len(good) else []
        timings["decode"] += middle - start
        timings["predict"] += time.perf_counter() - middle
        yield [(paths[indices[row]], p, None) for row, p in zip(good, probs)] + failures


def _totals(result, manifest):
    counts, result.total_errors = folder_counts(manifest)
    result.totals = dict(counts)


def sort_folder(classifier, input_dir, output_dir=None, threshold=0.7, mode="move",
                dry_run=False, batch_size=256, flip_average=None, progress=None):
    """Sort the images directly inside `input_dir` into `<output>/<view>/` (see module doc).

    `classifier` is a `ViewClassifier`; `mode` "move" or "copy"; `progress` a callable taking
    (images just handled, images to handle in all). Returns a `SortResult`.
    """
    input_dir = Path(input_dir)
    output = Path(output_dir) if output_dir else input_dir
    check_sort_options(input_dir, threshold, mode, batch_size)
    images = list_images(input_dir)  # the one listing of the input folder
    if not images and not (output / MANIFEST_NAME).exists():
        raise UsageError(f"{input_dir}: no images directly inside this folder")
    if dry_run:
        return _dry_run(classifier, images, output, threshold, mode, batch_size,
                        flip_average, progress)
    output.mkdir(parents=True, exist_ok=True)
    with (moving_lock(input_dir) if mode == "move" else nullcontext()), sort_lock(output):
        manifest, journal, recovered = open_sort_record(output, classifier.classes)
        try:
            for folder in [output / name for name in [*classifier.classes, UNKNOWN]]:
                remove_temporary_files(folder)
            remove_temporary_files(input_dir)
            paths, skipped, errors = _work_list(images, manifest)
            result = SortResult(output, list(classifier.classes), recovered=recovered,
                                skipped=skipped, mode=mode)
            _run(result, classifier, paths, manifest, journal, output, threshold, mode, False,
                 errors, batch_size, flip_average, progress)
            journal.clear()
            _totals(result, manifest)
        finally:
            manifest.close()
            journal.close()
    return result


def _dry_run(classifier, images, output, threshold, mode, batch_size, flip_average,
             progress):
    manifest_path = output / MANIFEST_NAME
    manifest = Manifest(manifest_path, classifier.classes, repair=False)  # never written
    paths, skipped, errors = _work_list(images, manifest)
    result = SortResult(output, list(classifier.classes), skipped=skipped, dry_run=True,
                        mode=mode)
    result.interrupted = journal_path(output).exists()
    _run(result, classifier, paths, manifest, None, str(output), threshold, mode, True, errors,
         batch_size, flip_average, progress)
    if manifest_path.exists():
        _totals(result, manifest)
    return result


def _run(result, classifier, paths, manifest, journal, output, threshold, mode, dry_run, errors,
         batch_size, flip_average, progress):
    timings = {"decode": 0.0, "predict": 0.0}
    writer = _Writer(result, manifest, journal, str(output), threshold, mode, dry_run, errors)
    writer.start()
    start = time.perf_counter()
    try:
        if paths:
            if progress:
                progress(0, len(paths))
            for batch in _batches(classifier, paths, batch_size, flip_average, timings):
                if writer.failure is not None:
                    break
                writer.queue.put(batch)
                if progress:
                    progress(len(batch), len(paths))
    finally:
        writer.queue.put(None)
        writer.join()
    result.seconds = time.perf_counter() - start
    result.stage_seconds = {"waiting for decoded images": timings["decode"],
                            "prediction": timings["predict"],
                            "file moves and manifest": writer.busy_seconds}
    if writer.failure is not None:
        raise writer.failure


def check_sort_options(input_dir, threshold, mode="move", batch_size=256):
    """One-line UsageError for a bad input folder, threshold, mode or batch size."""
    if not 0 < threshold <= 1:
        raise UsageError(f"--threshold must be in (0, 1], not {threshold}")
    if mode not in ("move", "copy"):
        raise UsageError(f"mode must be move or copy, not {mode!r}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    input_dir = Path(input_dir)
    if not input_dir.is_dir():
        raise UsageError(f"{input_dir}: input folder not found")


def check_has_images(input_dir, output_dir=None):
    """UsageError if `input_dir` holds no image and no earlier sort's manifest is in output
    (stops at the first image: a quick check before the model loads, not a listing)."""
    output = Path(output_dir) if output_dir else Path(input_dir)
    if (output / MANIFEST_NAME).exists():
        return
    with os.scandir(input_dir) as entries:
        if any(is_image_name(entry.name) and entry.is_file() for entry in entries):
            return
    raise UsageError(f"{input_dir}: no images directly inside this folder")
