"""The labelling decisions: an append-only log (`OUT/labels.csv`), its replay, and the export.

Every decision is one action: a single photo labelled, or a review page accepted (all its
photos share one action id). Each action appends one row per photo and is flushed and fsynced
before the call returns, so a labeller killed at any moment loses at most the decision it was
writing. Undo appends a row whose view is `undo` and whose action column names the action it
takes back; nothing is ever rewritten. The current labels are the replay of the whole log.
"""

import csv
import io
import os
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from cargen.cli import UsageError
from cargen.labelled_sets import (
    SPLITS,
    Placement,
    count_by_view,
    split_placements,
    write_labelled_set,
)
from cargen.safe_files import repair_last_line, write_text
from cargen.views import VIEWS

LABELS_FILE = "labels.csv"
LABEL_COLUMNS = ("file", "view", "time", "mode", "model_guess", "confidence", "action")
SKIP = "skip"
UNDO = "undo"
DECISIONS = (*VIEWS, SKIP)
EXPORT_MARKER = ".cargen-export"


def _utc_now():
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def csv_line(values):
    """One CSV row as text, ending in a newline."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(values)
    return buffer.getvalue()


class LabelStore:
    """The label log of one output folder, replayed into the current labels.

    `record()` appends an action and returns its id; `undo()` takes back the latest action still
    standing. `label_of(file)` is a file's current decision (a view, `skip`, or None). With
    `read_only` the log is only replayed (safe while a labeller is writing it).
    """

    def __init__(self, out_dir, read_only=False):
        self.path = Path(out_dir) / LABELS_FILE
        self.read_only = read_only
        self._lock = threading.Lock()
        self._history = {}   # file -> [(action id, view)], oldest first
        self._actions = {}   # action id -> (mode, [(file, view, model_guess)])
        self._stack = []     # ids of the actions still standing, oldest first
        self._counts = dict.fromkeys(DECISIONS, 0)
        self.session_actions = {}  # action id -> (unix time, photos) for actions made now
        self.ignored_lines = 0
        self.next_action = 1
        self._file = None
        if self.path.exists() and not read_only:
            repair_last_line(self.path)
        new = not self.path.exists() or self.path.stat().st_size == 0
        if not new:
            self._replay()
        if read_only:
            return
        self._file = open(self.path, "a", encoding="utf-8", newline="")
        if new:
            self._write(csv_line(LABEL_COLUMNS))

    def _write(self, text):
        self._file.write(text)
        self._file.flush()
        os.fsync(self._file.fileno())

    def _replay(self):
        text = self.path.read_text(encoding="utf-8", errors="replace")
        lines = text.split("\n")[:-1]  # what follows the last newline is a row being written
        if not lines:
            return
        header = next(csv.reader([lines[0]]), [])
        if tuple(header) != LABEL_COLUMNS:
            raise UsageError(f"{self.path}: not a cargen labels file (its first line should be "
                             f"{','.join(LABEL_COLUMNS)}); move it away or pick another --out")
        for line in lines[1:]:
            if not line:
                continue
            try:
                row = next(csv.reader([line]))
                file, view, _, mode, guess, _, action = row
                action = int(action)
            except (csv.Error, ValueError, StopIteration):
                self.ignored_lines += 1
                continue
            if view == UNDO:
                self._take_back(action)
            elif view in DECISIONS and file:
                self._apply(action, mode, [(file, view, guess)])
            else:
                self.ignored_lines += 1
            self.next_action = max(self.next_action, action + 1)

    def _set_count(self, file, delta):
        current = self.label_of(file)
        if current is not None:
            self._counts[current] += delta

    def _apply(self, action, mode, decisions):
        if action not in self._actions:
            self._actions[action] = (mode, [])
            self._stack.append(action)
        for file, view, guess in decisions:
            self._set_count(file, -1)
            self._history.setdefault(file, []).append((action, view))
            self._set_count(file, +1)
            self._actions[action][1].append((file, view, guess))

    def _take_back(self, action):
        if action not in self._actions:
            return None
        mode, decisions = self._actions.pop(action)
        self._stack.remove(action)
        for file in {file for file, _, _ in decisions}:
            self._set_count(file, -1)
            history = [entry for entry in self._history[file] if entry[0] != action]
            if history:
                self._history[file] = history
            else:
                del self._history[file]
            self._set_count(file, +1)
        self.session_actions.pop(action, None)
        return mode, decisions

    def record(self, decisions, mode):
        """Append one action: `decisions` is a list of (file, view, model_guess, confidence).

        `view` is a view name or `skip`; the guess may be None. Returns the action id once the
        rows are on disk.
        """
        if self._file is None:
            raise RuntimeError(f"{self.path} is open read-only")
        for file, view, _, _ in decisions:
            if view not in DECISIONS:
                raise ValueError(f"unknown view {view!r}")
            if not file or "\n" in file or "\r" in file:
                raise ValueError(f"bad file name {file!r}")
        with self._lock:
            action = self.next_action
            stamp = _utc_now()
            text = "".join(csv_line([
                file, view, stamp, mode, guess or "",
                "" if confidence is None else f"{confidence:.4f}", action,
            ]) for file, view, guess, confidence in decisions)
            self._write(text)
            self.next_action += 1
            self._apply(action, mode, [(file, view, guess or "") for file, view, guess, _ in
                                       decisions])
            self.session_actions[action] = (time.time(), len(decisions))
            return action

    def undo(self):
        """Take back the latest standing action; return (mode, [(file, view, guess)]) or None.

        The undo row carries the undone action's id and mode."""
        if self._file is None:
            raise RuntimeError(f"{self.path} is open read-only")
        with self._lock:
            if not self._stack:
                return None
            action = self._stack[-1]
            mode = self._actions[action][0]
            self._write(csv_line(["", UNDO, _utc_now(), mode, "", "", action]))
            return self._take_back(action)

    def can_undo(self):
        """True if there is an action to take back."""
        return bool(self._stack)

    def label_of(self, file):
        """The current decision for `file`: a view name, `skip`, or None."""
        history = self._history.get(file)
        return history[-1][1] if history else None

    def labels(self):
        """{file: current decision} for every decided file (views and `skip`)."""
        with self._lock:
            return {file: history[-1][1] for file, history in self._history.items()}

    def counts(self):
        """{decision: number of files} over the views and `skip`."""
        with self._lock:
            return dict(self._counts)

    def photos_per_minute(self, window_seconds=300.0, now=None):
        """Labelling speed in this session: photos decided per minute over the last few minutes."""
        now = time.time() if now is None else now
        recent = [(t, n) for t, n in self.session_actions.values() if now - t <= window_seconds]
        if not recent:
            return 0.0
        elapsed = max(now - min(t for t, _ in recent), 20.0)
        return sum(n for _, n in recent) * 60.0 / elapsed

    def close(self):
        """Close the log file (every row is already on disk)."""
        if self._file is not None:
            self._file.close()


def training_command(out_dir, init=None):
    """The train_model.py command for an export in `out_dir`: fine-tuning run folder `init`
    (e.g. classifier/pretrained) on it, or training from scratch when `init` is None."""
    if init is None:
        return (f"python classifier/train_model.py --data {out_dir} "
                f"--out classifier/models/labelled")
    return (f"python classifier/train_model.py --data {out_dir} --init {init} "
            f"--out classifier/models/finetuned")


def export_labels(labels, input_dir, out_dir, validation_split=0.2, seed=0):
    """Write `OUT/train/<view>/` and `OUT/validation/<view>/` from `labels` ({file: view}).

    The split is cargen.labelled_sets' stratified, seeded split by view, and the files are
    placed by its writer: hard links to the originals where the file system allows, else
    copies; skipped photos are left out. Files the labels no longer place there are removed
    first, so a killed export leaves part of the new set (never a file twice) and re-running
    finishes it. Existing `train/`/`validation/` folders are written only if an earlier export
    made them. Returns {"views": {view: (n_train, n_validation)}, "missing": [...],
    "linked": n, "copied": n, "present": n, "removed": n}.
    """
    if not 0.0 <= validation_split < 1.0:
        raise UsageError(f"--validation-split must be in [0, 1), not {validation_split}")
    input_dir, out_dir = Path(input_dir), Path(out_dir)
    for split in SPLITS:
        folder = out_dir / split
        if folder.exists() and not (folder / EXPORT_MARKER).exists():
            raise UsageError(f"{folder} exists and was not written by --export; move it away or "
                             f"pick another --out")
    present = {file: view for file, view in labels.items()
               if view in VIEWS and (input_dir / file).is_file()}
    missing = sorted(file for file, view in labels.items()
                     if view in VIEWS and file not in present)
    placements = split_placements(
        [Placement(input_dir / file, file, view) for file, view in present.items()],
        validation_split, seed)
    for split in SPLITS:
        (out_dir / split).mkdir(parents=True, exist_ok=True)
        write_text(out_dir / split / EXPORT_MARKER,
                   f"written by classifier/label_images.py --export from {LABELS_FILE}; "
                   f"replaced by the next export\n")
    counts = write_labelled_set(out_dir, placements, remove_unlisted=True)
    return {"views": count_by_view(placements), "missing": missing,
            **{key: counts[key] for key in ("linked", "copied", "present", "removed")}}
