"""Preparing a flat folder of The Car Connection pictures once, before anything trains on it.

`prepare_folder` parses every file name (cargen.datasets.car_connection), hashes every picture
(cargen.datasets.image_hashes) on a thread pool, groups exact and near duplicates, moves corrupt,
empty and non-image files into `<folder>/rejected/` and, when asked, all but one picture of each
duplicate group into `<folder>/duplicates/` (cargen.move_journal: one rename per file, journaled
first in `<folder>/.cargen_journal.jsonl` with its reason, never a delete). It writes
metadata.csv, duplicates.csv, rejected.csv, unparsed.csv and summary.txt to a report folder.
Hashes are cached in `<folder>/.cargen_hashes.csv`, so a re-run (also after a kill) only reads
new files. A run locks the folder (`safe_files.moving_lock`): two at once on one folder are refused.
"""

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cargen.cli import Progress, UsageError
from cargen.datasets.car_connection import COLUMNS, try_parse_name
from cargen.datasets.image_hashes import ImageHash, group_duplicates, hash_images
from cargen.images import JUNK_NAMES, is_image_name
from cargen.move_journal import MoveJournal, relative_to
from cargen.safe_files import moving_lock, repair_last_line, write_text

REJECTED_DIR = "rejected"
DUPLICATES_DIR = "duplicates"
CACHE_NAME = ".cargen_hashes.csv"
JOURNAL_NAME = ".cargen_journal.jsonl"
REPORT_FILES = ("metadata.csv", "duplicates.csv", "rejected.csv", "unparsed.csv", "summary.txt")
SIZE_BINS = (128, 256, 512, 1024, 2048)
_CACHE_COLUMNS = ("name", "size", "mtime_ns", "content", "perceptual", "width", "height",
                  "colours", "reason", "end")


def default_report_dir(folder):
    """`data/pictures` -> `data/pictures_report` (next to the folder, not inside it)."""
    folder = Path(folder)
    return folder.resolve().parent / f"{folder.resolve().name}_report"


@dataclass
class Item:
    """One file of the folder: where it is (relative to the folder) and what hashing found."""

    path: str
    hash: ImageHash = None
    reason: str = None

    @property
    def in_root(self):
        """True for a file directly in the folder (not in duplicates/)."""
        return "/" not in self.path


@dataclass
class PrepareResult:
    """Everything a run found and did; `summary` is the text printed at the end."""

    items: list
    rejected: list  # (path now, original path, reason)
    groups: list  # (group number, [(path now, role, distance, ImageHash)])
    unparsed: list  # (path, reason)
    moved_rejected: int = 0
    moved_duplicates: int = 0
    planned_duplicates: int = 0
    interrupted: object = None
    summary: str = ""
    reports: dict = field(default_factory=dict)


class HashCache:
    """Per-file hash results keyed by (name, size, mtime), appended to a CSV as they come.

    A line cut short by a kill lacks the final `end` column and is ignored.
    """

    def __init__(self, path):
        self.path = Path(path)
        self.known = {}
        self._handle = None
        self._pending = 0
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        for row in csv.reader(io.StringIO(text)):
            if len(row) != len(_CACHE_COLUMNS) or row[-1] != "end" or row[0] == "name":
                continue
            try:
                key = (row[0], int(row[1]), int(row[2]))
                if row[8]:
                    self.known[key] = (None, row[8])
                else:
                    self.known[key] = (ImageHash(row[3], int(row[4], 16), int(row[5]),
                                                 int(row[6]), int(row[1]), bytes.fromhex(row[7])),
                                       None)
            except ValueError:
                continue

    @staticmethod
    def key(path):
        """The cache key of a file: its name, size and modification time."""
        stat = os.stat(path)
        return Path(path).name, stat.st_size, stat.st_mtime_ns

    def add(self, key, image_hash, reason):
        """Remember one result (written to disk every few hundred results and on close)."""
        self.known[key] = (image_hash, reason)
        if self._handle is None:
            repair_last_line(self.path)
            self._handle = open(self.path, "a", encoding="utf-8", newline="")
            self._writer = csv.writer(self._handle, lineterminator="\n")
        if image_hash is None:
            row = [key[0], key[1], key[2], "", "", "", "", "", reason, "end"]
        else:
            row = [key[0], key[1], key[2], image_hash.content, f"{image_hash.perceptual:016x}",
                   image_hash.width, image_hash.height, image_hash.colours.hex(), "", "end"]
        self._writer.writerow(row)
        self._pending += 1
        if self._pending >= 256:
            self._handle.flush()
            self._pending = 0

    def close(self):
        """Flush and close the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def scan_folder(folder):
    """`(images, other_files, duplicate_images)`: relative paths of the pictures directly in
    `folder`, of its other non-hidden files, and of the pictures in `folder/duplicates/`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    images, others = [], []
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.is_file():
            continue
        if entry.name.startswith(".") or entry.name.lower() in JUNK_NAMES:
            continue
        (images if is_image_name(entry.name) else others).append(entry.name)
    duplicates = []
    if (folder / DUPLICATES_DIR).is_dir():
        duplicates = [f"{DUPLICATES_DIR}/{e.name}" for e in sorted(
            os.scandir(folder / DUPLICATES_DIR), key=lambda e: e.name)
            if e.is_file() and is_image_name(e.name)]
    return images, others, duplicates


def hash_folder_items(folder, paths, workers, cache, label="hashing"):
    """Hash the files at `paths` (relative to `folder`), cached; return a list of `Item`."""
    folder = Path(folder)
    items, todo = {}, []
    for path in paths:
        try:
            key = HashCache.key(folder / path)
        except OSError as error:
            items[path] = Item(path, None, f"cannot read ({error.strerror or error})")
            continue
        if key in cache.known:
            image_hash, reason = cache.known[key]
            items[path] = Item(path, image_hash, reason)
        else:
            todo.append((path, key))
    progress = Progress(len(todo), label=label)
    for (path, key), (_, image_hash, reason) in zip(
            todo, hash_images([folder / p for p, _ in todo], workers=workers)):
        items[path] = Item(path, image_hash, reason)
        cache.add(key, image_hash, reason)
        progress.update()
    progress.close()
    cache.close()
    return [items[path] for path in paths], len(todo)


def _not_image_reason(name):
    suffix = Path(name).suffix
    return f"not an image file (extension {suffix!r})" if suffix else \
        "not an image file (no extension)"


class FolderMoves:
    """The journaled moves of files between `folder` and its sub-folders, and their reasons."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.journal = MoveJournal(self.folder / JOURNAL_NAME)

    def recover(self):
        """Finish or forget what a killed run left half done; return the move that never
        started (its file is still at its source), or None."""
        _, forgotten = self.journal.recover()
        return forgotten[-1] if forgotten else None

    def move(self, source, target_dir, reason, name=None):
        """Move `folder/source` into `folder/target_dir/`; return its new relative path."""
        return self.journal.move_into(self.folder, source, target_dir, reason, name)

    def reasons(self):
        """{destination: (source, reason)} from the latest move to each destination, relative
        to the folder."""
        return {relative_to(op["dst"], self.folder): (relative_to(op["src"], self.folder),
                                                      op["reason"])
                for op in self.journal.completed()}


def prepare_folder(folder, report_dir=None, dedupe=False, dry_run=False, max_distance=6,
                   max_colour_difference=12.0, workers=4):
    """Run the whole preparation on `folder`; return a `PrepareResult` (reports written).

    FolderBusyError if another preparation holds the folder."""
    folder = Path(folder)
    report_dir = Path(report_dir) if report_dir else default_report_dir(folder)
    if report_dir.resolve() == folder.resolve():
        raise UsageError(f"{report_dir}: the reports cannot go into the pictures folder itself "
                         "(they would be taken for stray files); choose another --report")
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    with moving_lock(folder):
        return _prepare(folder, report_dir, dedupe, dry_run, max_distance,
                        max_colour_difference, workers)


def _prepare(folder, report_dir, dedupe, dry_run, max_distance, max_colour_difference, workers):
    images, others, in_duplicates = scan_folder(folder)
    journal = FolderMoves(folder)
    interrupted = None if dry_run else journal.recover()
    cache = HashCache(folder / CACHE_NAME)
    items, hashed = hash_folder_items(folder, images + in_duplicates, workers, cache)

    to_reject = [(name, _not_image_reason(name)) for name in others]
    to_reject += [(item.path, item.reason) for item in items if item.hash is None and item.in_root]
    good = [item for item in items if item.hash is not None]
    preference = [(not item.in_root, -item.hash.width * item.hash.height,
                   -item.hash.size_bytes, item.path) for item in good]
    groups = group_duplicates([item.hash for item in good], max_distance, preference,
                              max_colour_difference)
    to_dedupe = []
    for group in groups:
        keeper = good[group.members[0]]
        for index, distance, exact in zip(group.members[1:], group.distances[1:],
                                          group.exact[1:]):
            if good[index].in_root:
                kind = "exact copy" if exact else f"near copy (distance {distance})"
                to_dedupe.append((good[index], f"{kind} of {keeper.path}"))

    moved_rejected = moved_duplicates = 0
    if not dry_run:
        for path, reason in to_reject:
            journal.move(path, REJECTED_DIR, reason)
            moved_rejected += 1
        if dedupe:
            for item, reason in to_dedupe:
                item.path = journal.move(item.path, DUPLICATES_DIR, reason)
                moved_duplicates += 1

    result = PrepareResult(items=items, groups=_group_rows(groups, good), unparsed=[],
                           rejected=_rejected_rows(folder, journal, to_reject, dry_run),
                           moved_rejected=moved_rejected, moved_duplicates=moved_duplicates,
                           planned_duplicates=len(to_dedupe), interrupted=interrupted)
    metadata = []
    for item in good:
        record, reason = try_parse_name(Path(item.path).name)
        if record is None:
            result.unparsed.append((item.path, reason))
        else:
            metadata.append((item, record))
    result.summary = _summary(folder, report_dir, result, good, metadata, hashed,
                              f"perceptual distance <= {max_distance}, colour difference <= "
                              f"{max_colour_difference:g}", dedupe, dry_run)
    result.reports = _write_reports(report_dir, result, metadata)
    return result


def _rejected_rows(folder, journal, planned, dry_run):
    rows = []
    if dry_run:
        rows += [(path, path, reason) for path, reason in planned]  # still in the folder
    reasons = journal.reasons()
    rejected = Path(folder) / REJECTED_DIR
    if rejected.is_dir():
        for entry in sorted(os.scandir(rejected), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            path = f"{REJECTED_DIR}/{entry.name}"
            source, reason = reasons.get(path, (entry.name, "(not moved here by this tool)"))
            rows.append((path, source, reason))
    return rows


def _group_rows(groups, good):
    rows = []
    for number, group in enumerate(groups, 1):
        members = []
        for position, (index, distance, exact) in enumerate(
                zip(group.members, group.distances, group.exact)):
            role = "keep" if position == 0 else ("exact" if exact else "near")
            members.append((good[index].path, role, distance, good[index].hash))
        rows.append((number, members))
    return rows


def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _write_reports(report_dir, result, metadata):
    report_dir.mkdir(parents=True, exist_ok=True)
    files = {
        "metadata.csv": _csv_text(
            ("file",) + COLUMNS + ("image_width", "image_height", "file_bytes"),
            ([item.path] + [record[c] for c in COLUMNS]
             + [item.hash.width, item.hash.height, item.hash.size_bytes]
             for item, record in metadata)),
        "duplicates.csv": _csv_text(
            ("group", "file", "role", "distance", "content_hash", "perceptual_hash"),
            ((number, path, role, distance, image_hash.content, f"{image_hash.perceptual:016x}")
             for number, members in result.groups
             for path, role, distance, image_hash in members)),
        "rejected.csv": _csv_text(("file", "original_name", "reason"), result.rejected),
        "unparsed.csv": _csv_text(("file", "reason"), result.unparsed),
        "summary.txt": result.summary + "\n",
    }
    written = {}
    for name, text in files.items():
        write_text(report_dir / name, text)
        written[name] = report_dir / name
    return written


def _counts_line(counter, top=None):
    pairs = counter.most_common(top) if top else sorted(counter.items())
    text = ", ".join(f"{key or '(none)'} {count:,}" for key, count in pairs)
    if top and len(counter) > top:
        text += f", ... ({len(counter) - top} more)"
    return text or "-"


def _size_histogram(sizes, width=30):
    bins = Counter()
    for w, h in sizes:
        side = max(w, h)
        label = next((f"<= {edge}" for edge in SIZE_BINS if side <= edge), f"> {SIZE_BINS[-1]}")
        bins[label] += 1
    labels = [f"<= {edge}" for edge in SIZE_BINS] + [f"> {SIZE_BINS[-1]}"]
    top = max(bins.values(), default=1)
    lines = [f"    {label:>7} px  {'#' * round(width * bins[label] / top):<{width}} {bins[label]:,}"
             for label in labels]
    common = Counter(f"{w}x{h}" for w, h in sizes).most_common(5)
    lines.append("    most common: " + (", ".join(f"{s} {c:,}" for s, c in common) or "-"))
    return lines


def _summary(folder, report_dir, result, good, metadata, hashed, near_rule, dedupe, dry_run):
    remaining = [item for item in good if item.in_root]
    parsed_remaining = [record for item, record in metadata if item.in_root]
    reasons = Counter(reason.split(" (")[0] for _, _, reason in result.rejected)
    exact = sum(role == "exact" for _, members in result.groups for _, role, _, _ in members)
    near = sum(role == "near" for _, members in result.groups for _, role, _, _ in members)
    lines = [f"prepared {folder}: {len(good):,} pictures ({len(good) - len(remaining):,} of them "
             f"in {DUPLICATES_DIR}/); {hashed:,} files read now, the rest known from {CACHE_NAME}"]
    if result.interrupted is not None:
        lines.append(f"  the previous run was killed just before moving "
                     f"{relative_to(result.interrupted['src'], folder)}; nothing was lost, the "
                     "file stayed where it was")
    where = "to be moved to" if dry_run else "in"
    lines.append(f"  rejected:   {len(result.rejected):,} {where} {folder / REJECTED_DIR}"
                 + (f" ({_counts_line(reasons)})" if reasons else ""))
    lines.append(f"  duplicates: {len(result.groups):,} groups, {exact:,} exact and {near:,} near "
                 f"copies ({near_rule})")
    if dry_run:
        lines.append("  dry run: nothing was moved")
    elif dedupe:
        lines.append(f"              moved {result.moved_duplicates:,} to {folder / DUPLICATES_DIR}"
                     " (one picture of each group stays)")
    elif result.planned_duplicates:
        lines.append(f"              {result.planned_duplicates:,} copies are still in the folder; "
                     "--dedupe moves them to " + str(folder / DUPLICATES_DIR))
    lines.append(f"  names:      {len(metadata):,} parsed, {len(result.unparsed):,} did not parse")
    lines.append(f"  pictures in the folder now: {len(remaining):,}")
    lines.append("  by make:       "
                 + _counts_line(Counter(r["make"] for r in parsed_remaining), 12))
    lines.append(f"  by year:       {_counts_line(Counter(r['year'] for r in parsed_remaining))}")
    lines.append("  by body style: "
                 + _counts_line(Counter(r['body_style'] for r in parsed_remaining), 12))
    lines.append("  image sizes (longest side):")
    lines += _size_histogram([(i.hash.width, i.hash.height) for i in remaining])
    lines.append(f"  reports: {report_dir}/ ({', '.join(REPORT_FILES)})")
    return "\n".join(lines)


def restore_folder(folder):
    """Move every file in `rejected/` and `duplicates/` back into `folder` under the name it had
    (from the journal; suffixed if that name is taken). Returns the number moved."""
    folder = Path(folder)
    with moving_lock(folder):
        journal = FolderMoves(folder)
        journal.recover()
        return _restore(folder, journal)


def _restore(folder, journal):
    reasons = journal.reasons()
    moved = 0
    for sub in (REJECTED_DIR, DUPLICATES_DIR):
        if not (folder / sub).is_dir():
            continue
        for entry in sorted(os.scandir(folder / sub), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
                continue
            path = f"{sub}/{entry.name}"
            source = reasons.get(path, (entry.name, ""))[0]
            journal.move(path, ".", "restore", name=Path(source).name)
            moved += 1
    return moved

