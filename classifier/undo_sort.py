"""Undoing a sort: every file put back where it was, every copy removed, from the manifest.

The operations are journaled like the sort's (cargen.move_journal), so an undo killed at any
moment is finished by running it again. A name taken since the sort gets a `~N` suffix.
"""

import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from cargen.cli import UsageError
from cargen.move_journal import MOVE, REMOVE
from cargen.safe_files import free_name, fsync_dir, moving_lock, remove_temporary_files
from classifier.sort_manifest import (
    COPIED,
    MANIFEST_NAME,
    REMOVED_COPY,
    REPORT_NAME,
    RESTORED,
    STATE_DIR,
    UNKNOWN,
    open_sort_record,
    replay,
    sort_lock,
)


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
    with sort_lock(output), ExitStack() as locks:
        manifest, journal, result.recovered = open_sort_record(output)
        try:
            active, _ = replay(manifest)
            entries = list(active.values())  # oldest first: the first owner of a name gets it back
            moved_from = {os.path.dirname(manifest.absolute(e["file"])) for e in entries
                          if e["action"] != COPIED}
            for folder in sorted(moved_from):
                if os.path.isdir(folder):
                    locks.enter_context(moving_lock(folder))
            for folder in {os.path.dirname(manifest.absolute(e["file"])) for e in entries}:
                remove_temporary_files(folder)
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
            ops.append({"kind": REMOVE, "src": placed, "dst": original,
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
        ops.append({"kind": MOVE, "src": placed, "dst": target,
                    "row": manifest.row(target, placed, RESTORED)})

    def record(done):
        for op in done:
            if op["kind"] == REMOVE:
                result.removed_copies += 1
            else:
                result.restored += 1
        manifest.append([op["row"] for op in done])

    def skipped(op, error):
        (result.kept if isinstance(error, FileExistsError) else result.missing).append(op["src"])

    journal.run(ops, record, skipped)


def _remove_sort_leftovers(output, classes):
    for name in [*(classes or []), UNKNOWN]:
        folder = output / name
        if folder.is_dir():
            remove_temporary_files(folder)
            try:
                folder.rmdir()
            except OSError:
                pass  # not empty: the user's own files are there
    for name in (MANIFEST_NAME, REPORT_NAME):
        path = output / name
        if path.exists():
            path.unlink()
    shutil.rmtree(output / STATE_DIR, ignore_errors=True)
    fsync_dir(output)
