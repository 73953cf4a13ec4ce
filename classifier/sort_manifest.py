"""The record of a sort in its output folder: `predictions.csv` and the hidden state beside it.

`predictions.csv` (the manifest) has one row per file handled, appended and fsynced batch by
batch: where the file was, where it went, the action, the predicted view, its confidence,
every class's probability and, for a file that could not be read, why. An undo appends rows
too, so `replay` turns the rows into the folder's current state. `open_sort_record` opens the
manifest and the journal of file operations (`.cargen-sort/journal.jsonl`, cargen.move_journal)
and finishes what a killed run left half done; `sort_lock` keeps two sorts or undos apart.
"""

import csv
import os
from collections import Counter
from pathlib import Path

import numpy as np

from cargen.cli import UsageError
from cargen.move_journal import MoveJournal
from cargen.safe_files import FolderLock, fsync_dir, repair_last_line

MANIFEST_NAME = "predictions.csv"
REPORT_NAME = "sort_report.png"
STATE_DIR = ".cargen-sort"
JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = "lock"
UNKNOWN = "unknown"
BASE_COLUMNS = ("file", "destination", "action", "view", "confidence")
ERROR_COLUMN = "error"
# Manifest actions. A row's `file` is where the photo was (or, for undo, is put back),
# `destination` where it went.
MOVED, COPIED, ERROR = "moved", "copied", "error"
RESTORED, REMOVED_COPY = "restored", "removed_copy"


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
            repair_last_line(self.path)
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
            fsync_dir(self.root)

    def close(self):
        """Close the append handle."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


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


def folder_counts(manifest):
    """Files now in each destination folder (view or unknown) and the number of unreadable
    files, from a `Manifest`: `(Counter, errors)`."""
    active, errors = replay(manifest)
    counts = Counter(os.path.basename(os.path.dirname(row["destination"]))
                     for row in active.values())
    return counts, len(errors)


def sort_lock(output):
    """The lock that keeps two sorts or undos off the same output folder."""
    return FolderLock(Path(output) / STATE_DIR / LOCK_NAME,
                      f"{output}: another sort or undo is running on this folder")


def journal_path(output):
    """Where the journal of a sort's file operations lives in its output folder."""
    return Path(output) / STATE_DIR / JOURNAL_NAME


def open_sort_record(output, classes=None):
    """Open an output folder's manifest and journal, finishing an interrupted run first.

    Operations that took effect (or half did: linked but the source not yet removed) are
    finished and get their manifest row unless it is there already; the others are dropped.
    Returns `(manifest, journal, operations recovered)`. Call while holding `sort_lock`.
    """
    output = Path(output)
    (output / STATE_DIR).mkdir(parents=True, exist_ok=True)
    manifest = Manifest(output / MANIFEST_NAME, classes)
    journal = MoveJournal(journal_path(output))
    recovered = []

    def record(ops):
        recorded = {tuple(row[c] for c in ("file", "destination", "action"))
                    for row in manifest.rows()}
        for op in ops:
            key = tuple(op["row"][:3])
            if key not in recorded:
                recovered.append(op["row"])
                recorded.add(key)
        manifest.append(recovered)

    journal.recover(record)
    journal.clear()
    return manifest, journal, len(recovered)
