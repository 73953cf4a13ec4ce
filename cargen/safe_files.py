"""Writing files so that a process killed at any instant leaves whole files, never half ones.

The one home of cargen's file safety: every script that writes a report, a model, a picture or a
log, and every script that moves a user's files, goes through these functions.

- `replace_atomically(path, write)`: `write(temporary)` fills a hidden file beside `path`, which
  is flushed to disk and renamed over `path`; readers see the old file or the new one.
  `write_text`, `write_bytes` and `write_json` are its common cases.
- `free_name`: the one collision rule: a name already taken gets `~1`, `~2`, ... before its
  extension (`car.jpg` -> `car~1.jpg`); nothing is ever overwritten.
- `FolderLock`: one exclusive lock per folder, so two runs never work on it at once.
- `repair_last_line`: cut the half-written last line a killed writer left in a log.
- `link_no_replace`, `copy_to_temporary`, `same_content`, `same_file`: the primitives of moves
  and copies that never overwrite (cargen.move_journal builds its operations from them).
- `kill_point`: fault injection for the tests (`CARGEN_KILL_AT=point:n`).
"""

import errno
import fcntl
import json
import os
import shutil
import signal
import uuid
from pathlib import Path

from cargen.cli import UsageError

TEMP_MARK = ".cargen-tmp-"
KILL_ENV = "CARGEN_KILL_AT"


class FolderBusyError(UsageError):
    """Another cargen process holds the folder's lock. `str()` says which folder and why."""


def fsync_dir(folder):
    """Flush a folder's entries (new, renamed or removed names) to disk; a no-op where the
    file system cannot."""
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


def temporary_name(path):
    """A hidden, unique name beside `path` that keeps its extension (some writers need it)."""
    path = Path(path)
    return path.with_name(f"{TEMP_MARK}{uuid.uuid4().hex[:12]}-{path.name}")


def replace_atomically(path, write):
    """Create or replace `path` with what `write(temporary_path)` writes; return `path`.

    The temporary file is synced before the rename and the folder after it, so after a crash
    `path` holds either its old content or the whole new one. If `write` raises, the temporary
    file is removed and `path` is untouched.
    """
    path = Path(path)
    temporary = temporary_name(path)
    try:
        write(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()
    fsync_dir(path.parent)
    return path


def write_bytes(path, data):
    """Atomically write `data` (bytes) to `path`."""
    return replace_atomically(path, lambda temporary: Path(temporary).write_bytes(data))


def write_text(path, text):
    """Atomically write `text` (UTF-8) to `path`."""
    return write_bytes(path, text.encode("utf-8"))


def write_json(path, value):
    """Atomically write `value` as indented JSON (with a final newline) to `path`."""
    return write_text(path, json.dumps(value, indent=2) + "\n")


def remove_temporary_files(folder):
    """Remove the temporary files a killed writer left directly inside `folder`; return how
    many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return 0
    for entry in entries:
        if entry.name.startswith(TEMP_MARK) and entry.is_file(follow_symlinks=False):
            os.unlink(entry.path)
            removed += 1
    return removed


def free_name(directory, name, reserved=()):
    """`name` if it is free in `directory` (and not in `reserved`), else `stem~1.ext`,
    `stem~2.ext`, ...: the first free one."""
    stem, suffix = os.path.splitext(name)
    candidate, number = name, 0
    while candidate in reserved or os.path.lexists(os.path.join(directory, candidate)):
        number += 1
        candidate = f"{stem}~{number}{suffix}"
    return candidate


def copy_to_temporary(source, directory, sync=True):
    """Copy `source` to a new temporary file in `directory` (fsynced unless `sync` is False, when
    the caller syncs a whole batch at once); return its path."""
    temporary = str(temporary_name(Path(directory) / os.path.basename(source)))
    with open(source, "rb") as reader, open(temporary, "xb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)
        writer.flush()
        if sync:
            os.fsync(writer.fileno())
    shutil.copystat(source, temporary)
    return temporary


_NO_LINK_ERRORS = (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK, errno.ENOSYS,
                   errno.EACCES, errno.EOPNOTSUPP)


def link_no_replace(source, destination):
    """Give `source` the extra name `destination`, never overwriting: FileExistsError if it
    exists. Returns True for a real hard link.

    Where hard links are not possible (another device, a file system without them) the content
    is copied to a fsynced temporary file beside `destination`, which is then linked (or, where
    even that fails, renamed after a last check) to its name; returns False.
    """
    try:
        os.link(source, destination)
        return True
    except FileExistsError:
        raise
    except OSError as error:
        if error.errno not in _NO_LINK_ERRORS:
            raise
    temporary = copy_to_temporary(source, os.path.dirname(destination))
    try:
        try:
            os.link(temporary, destination)
        except FileExistsError:
            raise
        except OSError:
            if os.path.lexists(destination):
                raise FileExistsError(errno.EEXIST, "destination exists", destination) from None
            os.rename(temporary, destination)
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)
    return False


def same_file(a, b):
    """True if `a` and `b` are two names of one file (False if either is missing)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def same_content(a, b):
    """True if files `a` and `b` hold the same bytes (False if either cannot be read)."""
    try:
        if os.path.getsize(a) != os.path.getsize(b):
            return False
        with open(a, "rb") as first, open(b, "rb") as second:
            while True:
                block_a, block_b = first.read(1 << 20), second.read(1 << 20)
                if block_a != block_b:
                    return False
                if not block_a:
                    return True
    except OSError:
        return False


def repair_last_line(path):
    """Cut a half-written last line (one without its newline) off the end of `path`."""
    try:
        with open(path, "rb+") as handle:
            data = handle.read()
            if data and not data.endswith(b"\n"):
                handle.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


class FolderLock:
    """An exclusive, non-blocking lock: a `flock` on `lock_path`, a lock file (made if missing)
    or an existing folder itself (which leaves nothing behind in it).

    Use as a context manager; entering raises `FolderBusyError(busy_message)` when another
    process holds it. The lock goes with the process, so a killed run never leaves it stale.
    """

    def __init__(self, lock_path, busy_message):
        self.path = Path(lock_path)
        self.busy_message = busy_message
        self._fd = None

    def __enter__(self):
        if self.path.is_dir():
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FolderBusyError(self.busy_message) from None
        self._fd = fd
        return self

    def __exit__(self, *exc):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def moving_lock(folder):
    """The lock of a folder whose files a job is moving: a preparation or its restore, a sort
    moving its input or its undo. Two such jobs on one folder would move the same files; the
    second gets a one-line `FolderBusyError`. The folder itself is locked: no file is left in it.
    """
    return FolderLock(folder, f"{folder}: another job (a sort, a preparation or a restore) is "
                              "moving files in this folder; wait for it to finish")


def kill_point(point, counters={}):  # noqa: B006  (a per-process counter is the point)
    """SIGKILL this process the n-th time it reaches `point` when `CARGEN_KILL_AT=point:n`
    asks (n defaults to 1): how the tests kill a writer at an exact instant."""
    wanted = os.environ.get(KILL_ENV)
    if not wanted:
        return
    name, _, count = wanted.partition(":")
    if name != point:
        return
    counters[point] = counters.get(point, 0) + 1
    if counters[point] >= int(count or 1):
        os.kill(os.getpid(), signal.SIGKILL)
