"""Moves and copies of a user's files, written ahead to a journal so a kill at any instant loses
nothing and the next run knows what happened.

Used by the sorter (classifier/sorting.py, classifier/undo_sort.py) and by the preparation of
The Car Connection pictures (cargen/datasets/prepare_pictures.py).

A batch of operations is appended to the journal (one JSON line, fsynced) before any of them
runs; when they have run, a line marks the batch done with the operations that took effect.
An operation is a dict with `kind`, `src` and `dst` (absolute paths) plus whatever the caller
keeps with it (a manifest row, a reason):
- "move": `os.link(src, dst)`, then `os.unlink(src)`: the link never overwrites, and at every
  instant the file exists under at least one name (across devices the content is first copied
  to a fsynced temporary file, see cargen.safe_files.link_no_replace);
- "rename": one `os.rename` within a file system, for moves where the file must have exactly
  one name at every instant (prepare's); `dst` is checked to be free just before;
- "copy": `src` is copied to a fsynced temporary file that is then linked to `dst`;
- "remove": `src` is a copy of `dst`, which is in place: the copy is deleted.
On start, `recover` checks each operation of an unfinished batch against the file system: one
that happened (or half did: linked, source not yet removed) is finished, one that did not is
forgotten (its file is still at `src`).

Kill points for the tests (CARGEN_KILL_AT, see cargen.safe_files.kill_point): "intent" (batch
journaled, nothing done), "link" (a move's file linked, source not yet removed), "moves" (batch
done, not recorded), "recorded" (recorded by the caller, not marked done).
"""

import errno
import json
import os
from pathlib import Path

from cargen.safe_files import (
    copy_to_temporary,
    free_name,
    fsync_dir,
    kill_point,
    link_no_replace,
    repair_last_line,
    same_content,
    same_file,
)

MOVE, RENAME, COPY, REMOVE = "move", "rename", "copy", "remove"


def perform(op):
    """Carry out one operation; FileExistsError if its destination got taken meanwhile."""
    kind, src, dst = op["kind"], op["src"], op["dst"]
    if kind == MOVE:
        link_no_replace(src, dst)
        kill_point("link")
        os.unlink(src)
    elif kind == RENAME:
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "destination exists", dst)
        os.rename(src, dst)
    elif kind == COPY:
        temporary = op.pop("tmp", None) or copy_to_temporary(src, os.path.dirname(dst))
        try:
            link_no_replace(temporary, dst)
        finally:
            os.unlink(temporary)
    elif kind == REMOVE:
        if same_file(src, dst) or not same_content(src, dst):
            raise FileExistsError(errno.EEXIST, "copy differs from the original", src)
        os.unlink(src)
    else:
        raise ValueError(f"unknown operation {kind!r}")


def finish(op):
    """After a kill: finish `op` if it was under way; True if it took effect."""
    kind, src, dst = op["kind"], op["src"], op["dst"]
    if kind == MOVE:
        if not os.path.lexists(dst):
            return False
        if not os.path.lexists(src):
            return True
        if same_file(src, dst) or same_content(src, dst):
            os.unlink(src)
            return True
        return False
    if kind == RENAME:
        return os.path.lexists(dst) and not os.path.lexists(src)
    if kind == COPY:
        return os.path.lexists(dst)
    if kind == REMOVE:
        return not os.path.lexists(src) and os.path.lexists(dst)
    return False


def _fsync_folders(ops):
    for folder in {os.path.dirname(path) for op in ops for path in (op["src"], op["dst"])}:
        fsync_dir(folder)


class MoveJournal:
    """The write-ahead journal of file operations at `path` (JSON lines)."""

    def __init__(self, path):
        self.path = Path(path)
        self._handle = None
        self._next_id = None
        self._synced_folder = False

    def _batches(self):
        """{batch id: ops} in order and {batch id: indices of the ops that took effect}."""
        batches, done = {}, {}
        if not self.path.exists():
            return batches, done
        with open(self.path, "rb") as handle:
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # a half-written last line: its batch never started
                if "done" in entry:
                    done[entry["done"]] = entry.get("took_effect")
                else:
                    batches[entry["batch"]] = entry["ops"]
        return batches, done

    def pending(self):
        """[(batch id, ops)] of the batches journaled but not marked done, oldest first."""
        batches, done = self._batches()
        return [(batch, ops) for batch, ops in batches.items() if batch not in done]

    def completed(self):
        """Every operation that took effect, oldest first."""
        batches, done = self._batches()
        return [op for batch, ops in batches.items() if batch in done
                for index, op in enumerate(ops) if done[batch] is None or index in done[batch]]

    def _open(self):
        if self._handle is None:
            repair_last_line(self.path)
            self._next_id = max(self._batches()[0], default=-1) + 1
            self._handle = open(self.path, "ab")

    def _write(self, entry, sync):
        self._open()
        self._handle.write(json.dumps(entry).encode() + b"\n")
        self._handle.flush()
        if sync:
            os.fsync(self._handle.fileno())
            if not self._synced_folder:
                fsync_dir(self.path.parent)
                self._synced_folder = True

    def intend(self, ops):
        """Record the operations about to run (fsynced); return the batch id."""
        self._open()
        batch = self._next_id
        self._next_id += 1
        self._write({"batch": batch, "ops": ops}, sync=True)
        return batch

    def done(self, batch, took_effect=None):
        """Mark a batch finished; `took_effect` lists the indices of its operations that did
        (default: all)."""
        entry = {"done": batch}
        if took_effect is not None:
            entry["took_effect"] = list(took_effect)
        self._write(entry, sync=False)

    def run(self, ops, record=None, on_skip=None):
        """Journal `ops`, perform them, call `record(ops that took effect)` and mark the batch
        done; return the ops that took effect.

        `on_skip(op, error)` is told of an op whose destination got taken (FileExistsError) or
        whose source vanished (FileNotFoundError); without it those errors propagate.
        """
        if not ops:
            return []
        batch = self.intend(ops)
        kill_point("intent")
        effective = []
        for index, op in enumerate(ops):
            try:
                perform(op)
            except FileNotFoundError as error:
                if on_skip is None or os.path.lexists(op["src"]):
                    raise
                on_skip(op, error)
                continue
            except FileExistsError as error:
                if on_skip is None:
                    raise
                on_skip(op, error)
                continue
            effective.append(index)
        done_ops = [ops[index] for index in effective]
        _fsync_folders(done_ops)
        kill_point("moves")
        if record is not None:
            record(done_ops)
        kill_point("recorded")
        self.done(batch, None if len(effective) == len(ops) else effective)
        return done_ops

    def recover(self, record=None):
        """Finish or forget the operations of batches a killed run left unfinished.

        `record(ops that took effect)` is called before the batches are marked done. Returns
        `(finished, forgotten)`: the operations that took effect and those that never started.
        """
        pending = self.pending()
        if not pending:
            return [], []
        outcome = [(batch, ops, [index for index, op in enumerate(ops) if finish(op)])
                   for batch, ops in pending]
        finished = [ops[index] for _, ops, effective in outcome for index in effective]
        forgotten = [op for _, ops, effective in outcome
                     for index, op in enumerate(ops) if index not in effective]
        _fsync_folders(finished)
        if record is not None:
            record(finished)
        for batch, _, effective in outcome:
            self.done(batch, effective)
        return finished, forgotten

    def clear(self):
        """Forget everything (call only when the caller's own record holds every operation)."""
        self.close()
        if self.path.exists():
            self.path.unlink()

    def close(self):
        """Close the append handle."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def move_into(self, folder, source, target_dir, reason, name=None):
        """Rename `folder/source` into `folder/target_dir/` (created if needed) as one journaled
        batch; the name is `name` (default: the source's), suffixed `~N` if taken. Returns the
        new path relative to `folder`, with '/' separators."""
        folder = Path(folder)
        source_path = folder / source
        target = folder / target_dir
        target.mkdir(parents=True, exist_ok=True)
        destination = target / free_name(target, name or source_path.name)
        op = {"kind": RENAME, "src": str(source_path.absolute()),
              "dst": str(destination.absolute()), "reason": reason}
        self.run([op])
        return relative_to(destination, folder)


def relative_to(path, folder):
    """`path` relative to `folder`, with '/' separators."""
    return Path(os.path.relpath(path, folder)).as_posix()
