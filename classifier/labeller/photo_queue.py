"""The photos to label, the model's guesses for them, and the order the page shows them in.

`PhotoQueue` lists the input folder once and keeps the model's guess for every photo in numpy
arrays. Guesses come from `OUT/predictions_cache.csv` when that was written by the same model;
the rest are computed in a background thread, batch by batch, through the classifier's tf.data
pipeline and appended to the cache, so a restart does not compute them again. The queue answers
the two questions the page asks: which photos make the next review page (one guessed view, most
confident first) and which come next in single mode (least confident first).
"""

import csv
import hashlib
import re
import threading
from pathlib import Path

import numpy as np

from cargen.images import list_images
from cargen.safe_files import repair_last_line, write_text
from classifier.labeller.label_log import csv_line

PREDICTIONS_FILE = "predictions_cache.csv"
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def usable_name(name):
    """True for a file name the page can carry: valid UTF-8, no control characters."""
    if CONTROL_CHARACTERS.search(name):
        return False
    if name.isascii():
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def model_fingerprint(classifier):
    """A short hash naming the model (its files when it has a run folder, else its classes)."""
    digest = hashlib.sha256(repr(list(classifier.classes)).encode())
    run_dir = getattr(classifier, "run_dir", None)
    if run_dir:
        for name in ("model.keras", "classes.json"):
            with open(Path(run_dir) / name, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


class PhotoQueue:
    """Every photo of `input_dir` with its decided flag and (with a classifier) its guesses."""

    def __init__(self, input_dir, out_dir, classifier=None, batch_size=64, seed=0):
        listed = list_images(input_dir)
        self.paths = [path for path in listed if usable_name(path.name)]
        self.unusable_names = len(listed) - len(self.paths)
        self.names = [path.name for path in self.paths]
        self.index = {name: i for i, name in enumerate(self.names)}
        count = len(self.paths)
        self.order = np.random.default_rng(seed).permutation(count)
        self.rank = np.empty(count, np.int64)
        self.rank[self.order] = np.arange(count)
        self.done = np.zeros(count, bool)
        self.unreadable = np.zeros(count, bool)
        self.classifier = classifier
        self.classes = list(classifier.classes) if classifier is not None else []
        self.probs = np.zeros((count, len(self.classes)), np.float32)
        self.predicted = np.zeros(count, bool)
        self.guess = np.full(count, -1, np.int64)
        self.confidence = np.zeros(count, np.float32)
        self.batch_size = batch_size
        self.lock = threading.RLock()
        self.cache_path = Path(out_dir) / PREDICTIONS_FILE
        self.cached_predictions = 0
        self.prediction_error = None
        self._stop = threading.Event()
        self._thread = None
        self._cache = None
        if classifier is not None:
            self._open_cache()

    def __len__(self):
        return len(self.names)

    # predictions -------------------------------------------------------------------------

    def _open_cache(self):
        signature = (f"# cargen predictions; model {model_fingerprint(self.classifier)}; "
                     f"classes {' '.join(self.classes)}")
        header = csv_line(["file", "ok", *self.classes])
        fresh = True
        if self.cache_path.exists():
            repair_last_line(self.cache_path)
            lines = self.cache_path.read_text(encoding="utf-8", errors="replace").split("\n")
            if lines[0] == signature:
                fresh = False
                self._load_rows(lines[2:])
        if fresh:
            write_text(self.cache_path, signature + "\n" + header)
        self._cache = open(self.cache_path, "a", encoding="utf-8", newline="")

    def _load_rows(self, lines):
        width = len(self.classes)
        indices, probs, broken = [], [], []
        for row in csv.reader(line for line in lines if line):
            i = self.index.get(row[0]) if row else None
            if i is None or len(row) != width + 2:
                continue
            if row[1] == "0":
                broken.append(i)
                continue
            try:
                probs.append([float(value) for value in row[2:]])
            except ValueError:
                continue
            indices.append(i)
        if indices:
            self._set_predictions(np.array(indices), np.array(probs, np.float32))
        self.unreadable[broken] = True
        self.cached_predictions = len(indices) + len(broken)

    def _set_predictions(self, indices, probs):
        with self.lock:
            self.probs[indices] = probs
            self.guess[indices] = probs.argmax(axis=1)
            self.confidence[indices] = probs.max(axis=1)
            self.predicted[indices] = True

    def start_predictions(self):
        """Start guessing, in a background thread, every photo the cache does not cover."""
        if self.classifier is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._predict_missing, name="predictions",
                                        daemon=True)
        self._thread.start()

    def _predict_missing(self):
        try:
            todo = np.array([i for i in self.order
                             if not self.predicted[i] and not self.unreadable[i]], np.int64)
            if not len(todo):
                return
            dataset = self.classifier.dataset([self.paths[i] for i in todo], self.batch_size)
            for images, positions, ok in dataset:
                if self._stop.is_set():
                    return
                indices = todo[np.asarray(positions)]
                ok = np.asarray(ok).astype(bool)
                probs = np.asarray(self.classifier.predict(np.asarray(images)), np.float32)
                self._set_predictions(indices[ok], probs[ok])
                with self.lock:
                    self.unreadable[indices[~ok]] = True
                self._cache.write("".join(
                    csv_line([self.names[i], 1 if good else 0,
                               *(f"{p:.9g}" for p in row)] if good else
                              [self.names[i], 0, *[""] * len(self.classes)])
                    for i, good, row in zip(indices, ok, probs)))
                self._cache.flush()
        except Exception as error:  # shown on the page; labelling goes on without guesses
            self.prediction_error = f"{type(error).__name__}: {error}"

    @property
    def predicting(self):
        """True while the background thread is still guessing."""
        return self._thread is not None and self._thread.is_alive()

    def wait_for_predictions(self, timeout=None):
        """Block until the background predictions are finished (tests and benchmarks)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self):
        """Stop the background thread and close the cache file."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._cache is not None:
            self._cache.close()

    # queries -----------------------------------------------------------------------------

    def item(self, i):
        """What the page shows of photo `i`: its name and the model's top-3 guesses."""
        with self.lock:
            if not self.predicted[i]:
                return {"file": self.names[i], "guess": None, "confidence": None, "top": []}
            probs = self.probs[i]
            top = np.argsort(-probs, kind="stable")[:3]
            return {"file": self.names[i], "guess": self.classes[self.guess[i]],
                    "confidence": round(float(self.confidence[i]), 4),
                    "top": [[self.classes[k], round(float(probs[k]), 4)] for k in top]}

    def guess_of(self, i):
        """(guessed view, confidence) of photo `i`, or (None, None) before it is predicted."""
        with self.lock:
            if not self.predicted[i]:
                return None, None
            return self.classes[self.guess[i]], float(self.confidence[i])

    def _open(self, exclude=()):
        mask = ~self.done & ~self.unreadable
        if len(exclude):
            mask[list(exclude)] = False
        return mask

    def candidates_per_class(self):
        """How many open photos the model puts in each of its classes."""
        with self.lock:
            mask = self._open() & self.predicted
            return np.bincount(self.guess[mask], minlength=len(self.classes))

    def review_page(self, class_index, size):
        """Indices of up to `size` open photos guessed as `class_index`, most confident first."""
        with self.lock:
            candidates = np.flatnonzero(self._open() & self.predicted &
                                        (self.guess == class_index))
            scores = -self.confidence[candidates]
            if len(candidates) > size:
                keep = np.argpartition(scores, size - 1)[:size]
                candidates, scores = candidates[keep], scores[keep]
            return candidates[np.lexsort((self.rank[candidates], scores))].tolist()

    def single_queue(self, count, exclude=()):
        """Indices of the next `count` open photos for single mode: the ones the model is least
        sure of first, then the not yet predicted ones in a fixed shuffled order."""
        with self.lock:
            open_mask = self._open(exclude)
            guessed = np.flatnonzero(open_mask & self.predicted)
            scores = self.confidence[guessed]
            if len(guessed) > count:
                keep = np.argpartition(scores, count - 1)[:count]
                guessed, scores = guessed[keep], scores[keep]
            chosen = guessed[np.lexsort((self.rank[guessed], scores))].tolist()
            if len(chosen) < count:
                rest = self.order[(open_mask & ~self.predicted)[self.order]]
                chosen += rest[:count - len(chosen)].tolist()
            return chosen

    def open_count(self):
        """Photos still to decide (not labelled, not skipped, readable)."""
        with self.lock:
            return int(self._open().sum())
