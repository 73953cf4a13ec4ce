"""Kill-safe file moves inside one folder, written ahead to a journal so every move has a record.

Each move is one `os.rename` within the same file system, so at any instant the file exists under
exactly one name, whatever moment the process is killed. Before the rename, a line
`source,destination,reason` is appended to `<folder>/.cargen_journal.csv` and flushed to disk:
a re-run can tell whether the last move finished, where every file went (to undo the moves) and
why each file in `rejected/` or `duplicates/` is there. Nothing is ever
deleted or overwritten: a name already taken gets a `~1`, `~2`, ... suffix.
"""

import csv
import io
import os
import signal
from dataclasses import dataclass
from pathlib import Path

JOURNAL_NAME = ".cargen_journal.csv"
_END = "end"
_CRASH_ENV = "CARGEN_CRASH_AT"  # test hook: "before-rename:N" or "after-rename:N"


@dataclass(frozen=True)
class JournalEntry:
    """One recorded move; paths are relative to the folder, with '/' separators."""

    source: str
    destination: str
    reason: str


def free_name(directory, name):
    """`name` if it is not taken in `directory`, else `stem~1.ext`, `stem~2.ext`, ..."""
    directory = Path(directory)
    candidate = Path(name)
    number = 0
    while (directory / candidate.name).exists() or (directory / candidate.name).is_symlink():
        number += 1
        candidate = Path(f"{Path(name).stem}~{number}{Path(name).suffix}")
    return candidate.name


def ensure_newline(path):
    """A killed writer can leave a half line; start the next one on a fresh line."""
    try:
        with open(path, "rb+") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() == 0:
                return
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
    except FileNotFoundError:
        pass


class MoveJournal:
    """Journaled moves of files between a folder and its sub-folders."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / JOURNAL_NAME
        self.moves_done = 0
        self._crash = self._crash_setting()

    @staticmethod
    def _crash_setting():
        value = os.environ.get(_CRASH_ENV, "")
        if ":" not in value:
            return None
        stage, count = value.split(":", 1)
        return stage, int(count)

    def _maybe_crash(self, stage):
        if self._crash and self._crash == (stage, self.moves_done + 1):
            os.kill(os.getpid(), signal.SIGKILL)

    def entries(self):
        """Every complete journal line, oldest first (a half-written last line is ignored)."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        entries = []
        for row in csv.reader(io.StringIO(text)):
            if len(row) == 4 and row[3] == _END:
                entries.append(JournalEntry(row[0], row[1], row[2]))
        return entries

    def _append(self, entry):
        ensure_newline(self.path)
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(
            [entry.source, entry.destination, entry.reason, _END])
        with open(self.path, "a", encoding="utf-8", newline="") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())

    def move(self, source, target_dir, reason, name=None):
        """Move `folder/source` into `folder/target_dir/` (created if needed); return the new
        relative path. The destination name is `name` (default: the source's), suffixed if taken.
        """
        source_path = self.folder / source
        target = self.folder / target_dir
        target.mkdir(parents=True, exist_ok=True)
        destination = target / free_name(target, name or source_path.name)
        entry = JournalEntry(_relative(source_path, self.folder),
                             _relative(destination, self.folder), reason)
        self._append(entry)
        self._maybe_crash("before-rename")
        os.rename(source_path, destination)
        self._maybe_crash("after-rename")
        self.moves_done += 1
        return entry.destination

    def interrupted_move(self):
        """The last recorded move if it never happened (killed between journal and rename).

        Moves run one at a time and each is recorded before it starts, so only the last entry
        can be unfinished. Its file is still at the source; the next run plans it again.
        """
        entries = self.entries()
        if not entries:
            return None
        last = entries[-1]
        if (self.folder / last.source).exists() and not (self.folder / last.destination).exists():
            return last
        return None

    def reasons(self):
        """{destination: (source, reason)} from the latest move to each destination."""
        latest = {}
        for entry in self.entries():
            latest[entry.destination] = (entry.source, entry.reason)
        return latest


def _relative(path, folder):
    return Path(os.path.relpath(path, folder)).as_posix()
