"""Sorting a flat folder of photos into one folder per predicted view, never losing a file.

`sort_folder` predicts every image directly inside the input folder (tf.data decoding in
parallel, batched prediction, file moves on a separate thread so the three stages overlap) and
puts each file in `<output>/<view>/`, or `<output>/unknown/` when its top probability is below
the threshold. Files that cannot be decoded stay where they are and are recorded as errors.

Crash safety, whatever instant the process dies:
- before a batch's files are touched, the planned operations are appended to a journal
  (`<output>/.cargen-sort/journal.jsonl`) and fsynced;
- a move is `os.link(src, dst)` then `os.unlink(src)`: the link never overwrites, and at every
  instant the file exists under at least one name (a cross-device move copies to a temporary
  file, fsyncs it, links it in place, then removes the source);
- a copy goes to a hidden temporary file that is fsynced and then linked to its final name;
- after the moves the folders are fsynced and the batch's rows are appended to the manifest
  `<output>/predictions.csv` and fsynced;
- on start, operations the journal holds but the manifest lacks are checked against the file
  system: a move that happened is finished and recorded, one that did not is forgotten (the file
  is still in the input folder and is sorted again).
`undo_sort` uses the manifest, through the same journal, to put every file back.
"""

import csv
import errno
import fcntl
import json
import os
import queue
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cargen.cli import UsageError
from cargen.images import ImageDecodeError, list_images, load_square

MANIFEST_NAME = "predictions.csv"
REPORT_NAME = "sort_report.png"
STATE_DIR = ".cargen-sort"
JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "lock"
UNKNOWN = "unknown"
TMP_PREFIX = ".cargen-tmp-"
BASE_COLUMNS = ("file", "destination", "action", "view", "confidence")
ERROR_COLUMN = "error"
# Manifest actions. A row's `file` is where the photo was (or, for undo, is put back),
# `destination` where it went.
MOVED, COPIED, ERROR, RESTORED, REMOVED_COPY = "moved", "copied", "error", "restored", "removed_copy"
KILL_ENV = "CARGEN_SORT_KILL_AT"  # fault injection for tests: "<point>:<n>", see _checkpoint


def _checkpoint(point, counters={}):  # noqa: B006  (a per-process counter is the point)
    """SIGKILL this process the n-th time it reaches `point` when CARGEN_SORT_KILL_AT asks.

    Points: "intent" (journal written, nothing moved), "link" (file linked at its destination,
    source not yet removed), "moves" (batch moved, manifest not written), "manifest" (manifest
    written, journal not marked done).
    """
    wanted = os.environ.get(KILL_ENV)
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != point:
        return
    counters[point] = counters.get(point, 0) + 1
    if counters[point] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _truncate_partial_line(path):
    """Cut a half-written last line left by a killed writer."""
    try:
        with open(path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


def free_name(directory, name, reserved=()):
    """`name` if free in `directory` (and not in `reserved`), else `stem_1.ext`, `stem_2.ext`..."""
    stem, suffix = os.path.splitext(name)
    candidate, number = name, 0
    while candidate in reserved or os.path.lexists(os.path.join(directory, candidate)):
        number += 1
        candidate = f"{stem}_{number}{suffix}"
    return candidate


def _copy_to_temp(src, directory, sync=True):
    """Copy `src` into a hidden temporary file in `directory` (fsynced unless `sync` is False,
    when the caller syncs a whole batch at once); return its path."""
    tmp = os.path.join(directory, f"{TMP_PREFIX}{uuid.uuid4().hex}")
    with open(src, "rb") as source, open(tmp, "xb") as target:
        shutil.copyfileobj(source, target, 1 << 20)
        target.flush()
        if sync:
            os.fsync(target.fileno())
    shutil.copystat(src, tmp)
    return tmp


def _link_no_replace(src, dst):
    """Give `src` the extra name `dst`, never overwriting; FileExistsError if `dst` exists.

    Where hard links are not possible (a file system without them, or another device) the
    content is copied to a fsynced temporary file first, which is then linked or renamed.
    Returns True if `dst` is the same inode as `src` (a real link).
    """
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK,
                               errno.ENOSYS, errno.EACCES, errno.EOPNOTSUPP):
            raise
    tmp = _copy_to_temp(src, os.path.dirname(dst))
    try:
        try:
            os.link(tmp, dst)
        except FileExistsError:
            raise
        except OSError:
            if os.path.lexists(dst):
                raise FileExistsError(errno.EEXIST, "destination exists", dst) from None
            os.rename(tmp, dst)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return False


def _same_content(a, b):
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as fa, open(b, "rb") as fb:
            while True:
                block_a, block_b = fa.read(1 << 20), fb.read(1 << 20)
                if block_a != block_b:
                    return False
                if not block_a:
                    return True
    except OSError:
        return False


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _perform(op):
    """Carry out one journaled operation; FileExistsError if its destination got taken."""
    kind, src, dst = op["kind"], op["src"], op["dst"]
    if kind == "move":
        _link_no_replace(src, dst)
        _checkpoint("link")
        os.unlink(src)
    elif kind == "copy":
        tmp = op.pop("tmp", None) or _copy_to_temp(src, os.path.dirname(dst))
        try:
            _link_no_replace(tmp, dst)
        finally:
            os.unlink(tmp)
    elif kind == "remove":
        # `src` is a copy of `dst`, which is in place: the copy can go.
        if _same_file(src, dst) or not _same_content(src, dst):
            raise FileExistsError(errno.EEXIST, "copy differs from the original", src)
        os.unlink(src)
    else:
        raise ValueError(f"unknown operation {kind!r}")


def _finished(op):
    """After a crash: finish `op` if it was under way and tell whether it took effect."""
    kind, src, dst = op["kind"], op["src"], op["dst"]
    if kind == "move":
        if not os.path.lexists(dst):
            return False
        if not os.path.lexists(src):
            return True
        if _same_file(src, dst) or _same_content(src, dst):
            os.unlink(src)
            return True
        return False
    if kind == "copy":
        return os.path.lexists(dst)
    if kind == "remove":
        return not os.path.lexists(src) and os.path.lexists(dst)
    return False


class Manifest:
    """`predictions.csv`: one row per file handled, appended and fsynced batch by batch."""

    def __init__(self, path, classes=None, repair=True):
        self.path = Path(path)
        self.root = self.path.parent
        self._root = os.path.realpath(self.root)
        self._real_dirs = {}
        self.classes = list(classes) if classes is not None else None
        self._handle = None
        if repair:
            _truncate_partial_line(self.path)
        if self.path.exists() and self.path.stat().st_size:
            with open(self.path, newline="") as handle:
                header = next(csv.reader(handle), None)
            found = self._classes_of(header)
            if self.classes is not None and found != self.classes:
                raise UsageError(f"{self.path}: written for classes {found}, but the model has "
                                 f"{self.classes}; use the same model or another --output")
            self.classes = found

    def _classes_of(self, header):
        if (not header or tuple(header[:len(BASE_COLUMNS)]) != BASE_COLUMNS
                or header[-1] != ERROR_COLUMN):
            raise UsageError(f"{self.path}: not a cargen predictions manifest")
        return [name.removeprefix("p_") for name in header[len(BASE_COLUMNS):-1]]

    @property
    def header(self):
        """The CSV header: base columns, one `p_<class>` per class, error."""
        return [*BASE_COLUMNS, *(f"p_{name}" for name in self.classes), ERROR_COLUMN]

    def relative(self, path):
        """`path` as stored: relative to the manifest's folder when inside it, else absolute."""
        folder, name = os.path.split(os.path.abspath(path))
        real = self._real_dirs.get(folder)
        if real is None:
            real = self._real_dirs[folder] = os.path.realpath(folder)
        path = os.path.join(real, name)
        if path.startswith(self._root + os.sep):
            return os.path.relpath(path, self._root)
        return path

    def absolute(self, text):
        """The absolute path of a stored path."""
        return text if os.path.isabs(text) else os.path.join(self._root, text)

    def rows(self):
        """Iterate the rows as dicts (streamed; the file may be large)."""
        if not self.path.exists():
            return
        with open(self.path, newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                return
            for values in reader:
                if len(values) == len(header):
                    yield dict(zip(header, values))

    def row(self, file, destination, action, probs=None, error=""):
        """A manifest row (list) for one file."""
        n = len(self.classes)
        if probs is None:
            view, confidence, cells = "", "", [""] * n
        else:
            top = int(np.argmax(probs))
            view = self.classes[top]
            confidence = f"{float(probs[top]):.4f}"
            cells = [f"{float(p):.4f}" for p in probs]
        return [self.relative(file), self.relative(destination) if destination else "", action,
                view, confidence, *cells, error]

    def append(self, rows):
        """Append rows, flush and fsync (the header first if the file is new)."""
        if not rows:
            return
        new = False
        if self._handle is None:
            new = not self.path.exists() or self.path.stat().st_size == 0
            self._handle = open(self.path, "a", newline="")
            if new:
                csv.writer(self._handle).writerow(self.header)
        csv.writer(self._handle).writerows(rows)
        self._handle.flush()
        os.fsync(self._handle.fileno())
        if new:
            _fsync_dir(self.root)

    def close(self):
        """Close the append handle."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class Journal:
    """Write-ahead log of the file operations of the batch under way."""

    def __init__(self, path):
        self.path = Path(path)
        self._handle = None
        self._next_id = 0

    def pending(self):
        """Operations of batches that were planned but not marked done (oldest first)."""
        if not self.path.exists():
            return []
        batches, done = {}, set()
        with open(self.path, "rb") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a half-written last line: its batch never started
                if "done" in entry:
                    done.add(entry["done"])
                else:
                    batches[entry["batch"]] = entry["ops"]
        return [op for batch, ops in batches.items() if batch not in done for op in ops]

    def _write(self, entry, sync):
        new = self._handle is None
        if new:
            self._handle = open(self.path, "ab")
        self._handle.write(json.dumps(entry).encode() + b"\n")
        self._handle.flush()
        if sync:
            os.fsync(self._handle.fileno())
            if new:
                _fsync_dir(self.path.parent)

    def intend(self, ops):
        """Record the operations about to run (fsynced); return the batch id."""
        batch = self._next_id
        self._next_id += 1
        self._write({"batch": batch, "ops": ops}, sync=True)
        return batch

    def done(self, batch):
        """Mark a batch finished (its rows are already in the manifest)."""
        self._write({"done": batch}, sync=False)

    def clear(self):
        """Forget everything (call only when the manifest holds every finished operation)."""
        self.close()
        if self.path.exists():
            self.path.unlink()

    def close(self):
        """Close the append handle."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class SortLock:
    """An exclusive lock on an output folder so two sorts never work on it at once."""

    def __init__(self, state_dir):
        self.path = Path(state_dir) / LOCK_NAME
        self._handle = None

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(self.path, "a")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._handle.close()
            raise UsageError(f"{self.path.parent.parent}: another sort or undo is running on "
                             "this folder") from None
        return self

    def __exit__(self, *exc):
        self._handle.close()


def recover(manifest, journal):
    """Reconcile an interrupted run's journal with the file system and the manifest.

    Operations that took effect (or half did: linked but the source not yet removed) are
    finished and recorded in the manifest unless already there; the others are dropped.
    Returns the number of operations recovered.
    """
    ops = journal.pending()
    if not ops:
        journal.clear()
        return 0
    recorded = {tuple(row[c] for c in ("file", "destination", "action"))
                for row in manifest.rows()}
    rows, touched = [], set()
    for op in ops:
        if _finished(op):
            key = tuple(op["row"][:3])
            if key not in recorded:
                rows.append(op["row"])
                recorded.add(key)
            touched.update({os.path.dirname(op["src"]), os.path.dirname(op["dst"])})
    for folder in touched:
        _fsync_dir(folder)
    manifest.append(rows)
    journal.clear()
    return len(rows)


def _remove_temp_files(output, folders):
    for name in folders:
        folder = Path(output) / name
        if folder.is_dir():
            for path in folder.glob(TMP_PREFIX + "*"):
                path.unlink()


def replay(manifest):
    """The current state from the manifest: {destination: row} of files sorted and not undone
    (in manifest order), and {file: reason} of files recorded as undecodable."""
    active, errors = {}, {}
    for row in manifest.rows():
        action = row["action"]
        if action in (MOVED, COPIED):
            active[row["destination"]] = row
            errors.pop(row["file"], None)
        elif action == ERROR:
            errors[row["file"]] = row[ERROR_COLUMN]
        elif action in (RESTORED, REMOVED_COPY):
            # An undo row names where the file went back to and where it came from.
            active.pop(row["destination"], None)
    return active, errors


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
            _fsync_dir(self.output)
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
        batch_id = self.journal.intend(ops) if ops else None
        _checkpoint("intent")
        if self.mode == "copy" and ops:
            # Copy the batch to temporary files and make them durable with one sync, not one
            # fsync per file; each is then linked to its name (see _perform).
            for op in ops:
                try:
                    op["tmp"] = _copy_to_temp(op["src"], os.path.dirname(op["dst"]), sync=False)
                except FileNotFoundError:
                    pass  # the source vanished: _perform below finds out again and skips it
            os.sync()
        rows, touched = [], set()
        for op in ops:
            try:
                _perform(op)
            except FileExistsError:
                self.result.deferred += 1
                continue
            except FileNotFoundError:
                if os.path.lexists(op["src"]):
                    raise
                self.result.vanished += 1  # deleted by someone else since it was listed
                continue
            rows.append(op["row"])
            touched.update({os.path.dirname(op["src"]), os.path.dirname(op["dst"])})
            self.result.counts[op["view"]] = self.result.counts.get(op["view"], 0) + 1
        for folder in touched:
            _fsync_dir(folder)
        _checkpoint("moves")
        self.manifest.append(rows + error_rows)
        _checkpoint("manifest")
        if batch_id is not None:
            self.journal.done(batch_id)


def _work_list(input_dir, manifest):
    """Images directly inside `input_dir` still to sort, and how many were skipped as done."""
    active, errors = replay(manifest)
    # A moved file that is back at its old name is a new file; a copied one is the original.
    copied = {row["file"] for row in active.values() if row["action"] == COPIED}
    todo, skipped = [], 0
    own_report = os.path.join(manifest._root, REPORT_NAME)
    for path in list_images(input_dir):
        relative = manifest.relative(path)
        if relative in (REPORT_NAME, own_report):
            continue
        if relative in copied:
            skipped += 1
            continue
        todo.append(str(path))
    return todo, skipped, errors


def _totals(manifest):
    active, errors = replay(manifest)
    totals = {}
    for row in active.values():
        folder = os.path.basename(os.path.dirname(row["destination"]))
        totals[folder] = totals.get(folder, 0) + 1
    return totals, len(errors)


def _batches(classifier, paths, batch_size, flip_average, timings):
    """Yield lists of (path, probabilities or None, error reason or None), one per batch."""
    dataset = classifier.dataset(paths, batch_size)
    iterator = iter(dataset)
    while True:
        start = time.perf_counter()
        try:
            images, indices, ok = next(iterator)
        except StopIteration:
            return
        middle = time.perf_counter()
        images, indices, ok = images.numpy(), indices.numpy(), ok.numpy()
        failures = []
        if not ok.all():
            # Decode again here to learn why (rare); a file that now decodes is predicted.
            for row in np.flatnonzero(~ok):
                try:
                    images[row] = load_square(paths[indices[row]], classifier.image_size,
                                              classifier.fit)
                    ok[row] = True
                except ImageDecodeError as error:
                    failures.append((paths[indices[row]], None, error.reason))
        good = np.flatnonzero(ok)
        probs = classifier.predict(images[good], flip_average=flip_average) if len(good) else []
        timings["decode"] += middle - start
        timings["predict"] += time.perf_counter() - middle
        yield [(paths[indices[row]], p, None) for row, p in zip(good, probs)] + failures


def prepare(output_dir, classes=None):
    """Open an output folder's manifest and journal, finishing an interrupted run first.

    Returns `(manifest, journal, recovered)`. Call while holding `SortLock`.
    """
    output = Path(output_dir)
    state = output / STATE_DIR
    state.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(output / MANIFEST_NAME, classes)
    journal = Journal(state / JOURNAL_NAME)
    recovered = recover(manifest, journal)
    return manifest, journal, recovered


def sort_folder(classifier, input_dir, output_dir=None, threshold=0.7, mode="move",
                dry_run=False, batch_size=256, flip_average=None, progress=None):
    """Sort the images directly inside `input_dir` into `<output>/<view>/` (see module doc).

    `classifier` is a `ViewClassifier`; `mode` "move" or "copy"; `progress` a callable taking
    (images just handled, images to handle in all). Returns a `SortResult`.
    """
    input_dir = Path(input_dir)
    output = Path(output_dir) if output_dir else input_dir
    check_sort_options(input_dir, threshold, mode, batch_size)
    check_has_images(input_dir, output)
    if dry_run:
        return _dry_run(classifier, input_dir, output, threshold, mode, batch_size,
                        flip_average, progress)
    output.mkdir(parents=True, exist_ok=True)
    with SortLock(output / STATE_DIR):
        manifest, journal, recovered = prepare(output, classifier.classes)
        try:
            _remove_temp_files(output, [*classifier.classes, UNKNOWN])
            _remove_temp_files(input_dir, ["."])
            paths, skipped, errors = _work_list(input_dir, manifest)
            result = SortResult(output, list(classifier.classes), recovered=recovered,
                                skipped=skipped, mode=mode)
            _run(result, classifier, paths, manifest, journal, output, threshold, mode, False,
                 errors, batch_size, flip_average, progress)
            journal.clear()
            result.totals, result.total_errors = _totals(manifest)
        finally:
            manifest.close()
            journal.close()
    return result


def _dry_run(classifier, input_dir, output, threshold, mode, batch_size, flip_average,
             progress):
    manifest_path = output / MANIFEST_NAME
    manifest = Manifest(manifest_path, classifier.classes, repair=False)  # never written
    paths, skipped, errors = _work_list(input_dir, manifest)
    result = SortResult(output, list(classifier.classes), skipped=skipped, dry_run=True,
                        mode=mode)
    result.interrupted = (output / STATE_DIR / JOURNAL_NAME).exists()
    _run(result, classifier, paths, manifest, None, str(output), threshold, mode, True, errors,
         batch_size, flip_average, progress)
    if manifest_path.exists():
        result.totals, result.total_errors = _totals(manifest)
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
    """UsageError if `input_dir` holds no image and no earlier sort's manifest is in output."""
    output = Path(output_dir) if output_dir else Path(input_dir)
    if not (output / MANIFEST_NAME).exists() and not list_images(input_dir):
        raise UsageError(f"{input_dir}: no images directly inside this folder")


@dataclass
class UndoResult:
    """What an undo did."""

    restored: int = 0
    removed_copies: int = 0
    missing: list = field(default_factory=list)     # sorted files no longer where they went
    renamed: list = field(default_factory=list)     # (wanted name, name used) on a collision
    kept: list = field(default_factory=list)        # copies left: they differ from the original
    recovered: int = 0
    complete: bool = False


def undo_sort(output_dir, batch_size=256, progress=None):
    """Put every file a sort moved back where it was, and remove the copies it made.

    Works from the manifest, journaled like the sort (safe to kill and re-run). When every
    file is back, the view folders (if empty), the manifest, the report and the state folder
    are removed, so the folder lists exactly as before the sort.
    """
    output = Path(output_dir)
    manifest_path = output / MANIFEST_NAME
    if not manifest_path.exists():
        raise UsageError(f"{manifest_path}: no manifest, nothing to undo")
    result = UndoResult()
    with SortLock(output / STATE_DIR):
        manifest, journal, result.recovered = prepare(output)
        try:
            active, _ = replay(manifest)
            entries = list(active.values())  # oldest first: the first owner of a name gets it back
            for folder in {os.path.dirname(manifest.absolute(e["file"])) for e in entries}:
                _remove_temp_files(folder, ["."])
            for start in range(0, len(entries), batch_size):
                _undo_batch(entries[start:start + batch_size], manifest, journal, result)
                if progress:
                    progress(len(entries[start:start + batch_size]))
            journal.clear()
            remaining, _ = replay(manifest)
            result.complete = not remaining
        finally:
            manifest.close()
            journal.close()
        if result.complete:
            _remove_sort_leftovers(output, manifest.classes)
    return result


def _undo_batch(entries, manifest, journal, result):
    ops, reserved = [], {}
    for entry in entries:
        original = manifest.absolute(entry["file"])
        placed = manifest.absolute(entry["destination"])
        if not os.path.lexists(placed):
            result.missing.append(placed)
            continue
        if entry["action"] == COPIED and os.path.lexists(original):
            ops.append({"kind": "remove", "src": placed, "dst": original,
                        "row": manifest.row(original, placed, REMOVED_COPY)})
            continue
        folder, name = os.path.split(original)
        os.makedirs(folder, exist_ok=True)
        taken = reserved.setdefault(folder, set())
        free = free_name(folder, name, taken)
        taken.add(free)
        target = os.path.join(folder, free)
        if free != name:
            result.renamed.append((original, target))
        ops.append({"kind": "move", "src": placed, "dst": target,
                    "row": manifest.row(target, placed, RESTORED)})
    if not ops:
        return
    batch_id = journal.intend(ops)
    _checkpoint("intent")
    rows, touched = [], set()
    for op in ops:
        try:
            _perform(op)
        except FileExistsError:
            result.kept.append(op["src"])
            continue
        rows.append(op["row"])
        touched.update({os.path.dirname(op["src"]), os.path.dirname(op["dst"])})
        if op["kind"] == "remove":
            result.removed_copies += 1
        else:
            result.restored += 1
    for folder in touched:
        _fsync_dir(folder)
    _checkpoint("moves")
    manifest.append(rows)
    _checkpoint("manifest")
    journal.done(batch_id)


def _remove_sort_leftovers(output, classes):
    for name in [*(classes or []), UNKNOWN]:
        folder = output / name
        if folder.is_dir():
            _remove_temp_files(output, [name])
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: the user's own files are there
    for name in (MANIFEST_NAME, REPORT_NAME):
        path = output / name
        if path.exists():
            path.unlink()
    shutil.rmtree(output / STATE_DIR, ignore_errors=True)
    _fsync_dir(output)


def summary_table(result):
    """The end-of-run summary as text: files per folder, errors, throughput, limiting stage."""
    lines = []
    folders = [*result.classes, UNKNOWN]
    heading = "would go to" if result.dry_run else "this run"
    show_totals = bool(result.totals) and not result.dry_run
    lines.append(f"{'folder':<14}{heading:>12}" + (f"{'in folder':>12}" if show_totals else ""))
    for name in folders:
        run = result.counts.get(name, 0)
        total = result.totals.get(name, 0)
        if run or total:
            lines.append(f"{name + '/':<14}{run:>12}" + (f"{total:>12}" if show_totals else ""))
    lines.append(f"{'errors':<14}{len(result.errors):>12}"
                 + (f"{result.total_errors:>12}" if show_totals else ""))
    total_run = sum(result.counts.values()) + len(result.errors)
    lines.append(f"{'total':<14}{total_run:>12}"
                 + (f"{sum(result.totals.values()) + result.total_errors:>12}"
                    if show_totals else ""))
    rate = result.images_per_second
    lines.append(f"{result.processed} images in {result.seconds:.1f} s: {rate:,.0f} images/s")
    if result.stage_seconds and result.processed:
        stage = max(result.stage_seconds, key=result.stage_seconds.get)
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in
                          result.stage_seconds.items())
        lines.append(f"stages (overlapping): {parts}; limited by {stage}")
    if result.skipped:
        lines.append(f"{result.skipped} images already sorted earlier were skipped")
    if result.recovered:
        lines.append(f"{result.recovered} operations of an interrupted run were finished")
    if result.deferred:
        lines.append(f"{result.deferred} images left in place because their destination name "
                     "appeared during the run; run again to sort them")
    if result.interrupted:
        lines.append("an interrupted sort is pending: the next run without --dry-run finishes it")
    if result.vanished:
        lines.append(f"{result.vanished} images were deleted by something else during the run")
    for path, reason in result.errors[:10]:
        lines.append(f"error: {path}: {reason}")
    if len(result.errors) > 10:
        lines.append(f"... and {len(result.errors) - 10} more errors (see {MANIFEST_NAME})")
    return "\n".join(lines)
