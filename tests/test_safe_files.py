"""The kill-safe file layer: whole files after a SIGKILL, one collision suffix, one lock, one
half-line repair, and a journal of moves that finishes or forgets what a killed run began."""

import errno
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cargen import safe_files
from cargen.move_journal import COPY, MOVE, REMOVE, MoveJournal
from cargen.safe_files import (
    KILL_ENV,
    TEMP_MARK,
    FolderBusyError,
    FolderLock,
    free_name,
    link_no_replace,
    moving_lock,
    remove_temporary_files,
    repair_last_line,
    write_json,
    write_text,
)

REPO = Path(__file__).resolve().parents[1]


def run_child(code, kill_at=None, **popen):
    """Run `code` in a fresh python with this checkout on the path (killed at `kill_at`)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if kill_at:
        env[KILL_ENV] = kill_at
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=60, check=False, **popen)


def test_replace_killed_mid_write_leaves_the_old_file(tmp_path):
    path = tmp_path / "report.json"
    write_json(path, {"version": 1})
    code = f"""
        from pathlib import Path
        from cargen.safe_files import kill_point, replace_atomically

        def write(temporary):
            with open(temporary, "w") as handle:
                handle.write('{{"version": 2, "half')
                handle.flush()
                kill_point("mid-write")
                handle.write('"}}')

        replace_atomically(Path({str(path)!r}), write)
    """
    result = run_child(code, kill_at="mid-write")
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert path.read_text() == '{\n  "version": 1\n}\n'
    assert len(list(tmp_path.glob(TEMP_MARK + "*"))) == 1  # what the killed writer left
    assert remove_temporary_files(tmp_path) == 1 and os.listdir(tmp_path) == ["report.json"]

    result = run_child(code)  # not killed: the new content, whole
    assert result.returncode == 0, result.stderr
    assert path.read_text() == '{"version": 2, "half"}' and os.listdir(tmp_path) == [path.name]


def test_replace_that_raises_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "notes.txt", "old")

    def fail(temporary):
        Path(temporary).write_text("new")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        safe_files.replace_atomically(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["notes.txt"]


def test_free_name_adds_tilde_numbers_and_never_reuses_a_name(tmp_path):
    assert free_name(tmp_path, "car.jpg") == "car.jpg"
    (tmp_path / "car.jpg").write_bytes(b"")
    (tmp_path / "car~1.jpg").write_bytes(b"")
    assert free_name(tmp_path, "car.jpg") == "car~2.jpg"
    assert free_name(tmp_path, "car.jpg", reserved={"car~2.jpg"}) == "car~3.jpg"
    assert free_name(tmp_path, "new.jpg", reserved={"new.jpg"}) == "new~1.jpg"
    (tmp_path / "README").write_bytes(b"")
    assert free_name(tmp_path, "README") == "README~1"
    os.symlink(tmp_path / "nowhere", tmp_path / "link.jpg")  # a dangling link is taken too
    assert free_name(tmp_path, "link.jpg") == "link~1.jpg"


def test_folder_lock_refuses_a_second_holder_in_another_process(tmp_path):
    lock = tmp_path / "state" / "lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from cargen.safe_files import FolderLock
            with FolderLock({str(lock)!r}, "busy"):
                print("locked", flush=True)
                time.sleep(60)
        """)], env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = FolderLock(lock, "pictures: another run is working here")
        with pytest.raises(FolderBusyError, match="pictures: another run"), second:
            pass
    finally:
        holder.kill()
        holder.wait()
    with FolderLock(lock, "busy"):  # a killed holder never leaves the lock stale
        pass


def test_moving_lock_locks_the_folder_itself_and_leaves_nothing_in_it(tmp_path):
    (tmp_path / "car.jpg").write_bytes(b"x")
    with moving_lock(tmp_path):
        with pytest.raises(FolderBusyError, match="is moving files in this folder"):
            with moving_lock(tmp_path):  # flock is per open file: refused in one process too
                pass
    assert os.listdir(tmp_path) == ["car.jpg"]


def test_repair_last_line_cuts_only_a_half_line(tmp_path):
    log = tmp_path / "log.csv"
    log.write_bytes(b"a,1\nb,2\nc,")
    repair_last_line(log)
    assert log.read_bytes() == b"a,1\nb,2\n"
    repair_last_line(log)
    assert log.read_bytes() == b"a,1\nb,2\n"
    log.write_bytes(b"half")
    repair_last_line(log)
    assert log.read_bytes() == b""
    repair_last_line(tmp_path / "missing.csv")  # nothing to repair
    assert not (tmp_path / "missing.csv").exists()


def test_link_no_replace_never_overwrites_and_copies_across_devices(tmp_path, monkeypatch):
    (tmp_path / "a.jpg").write_bytes(b"picture")
    (tmp_path / "b.jpg").write_bytes(b"the user's")
    with pytest.raises(FileExistsError):
        link_no_replace(tmp_path / "a.jpg", tmp_path / "b.jpg")
    assert (tmp_path / "b.jpg").read_bytes() == b"the user's"
    real_link = os.link
    calls = []

    def cross_device(src, dst):
        calls.append(dst)
        if len(calls) == 1:
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(src, dst)

    monkeypatch.setattr(safe_files.os, "link", cross_device)
    assert link_no_replace(tmp_path / "a.jpg", tmp_path / "c.jpg") is False
    assert (tmp_path / "c.jpg").read_bytes() == b"picture"
    assert os.stat(tmp_path / "a.jpg").st_ino != os.stat(tmp_path / "c.jpg").st_ino
    assert not list(tmp_path.glob(TEMP_MARK + "*"))


def _op(kind, src, dst, **extra):
    return {"kind": kind, "src": str(src), "dst": str(dst), **extra}


def test_journal_recovery_finishes_what_happened_and_forgets_the_rest(tmp_path):
    views = tmp_path / "front"
    views.mkdir()
    for name in "abcde":
        (tmp_path / f"{name}.jpg").write_bytes(name.encode())
    journal = MoveJournal(tmp_path / "journal.jsonl")
    ops = [_op(MOVE, tmp_path / "a.jpg", views / "a.jpg", row="a"),  # never started
           _op(MOVE, tmp_path / "b.jpg", views / "b.jpg", row="b"),  # linked, not unlinked
           _op(MOVE, tmp_path / "c.jpg", views / "c.jpg", row="c"),  # done
           _op(COPY, tmp_path / "d.jpg", views / "d.jpg", row="d"),  # done
           _op(REMOVE, views / "e.jpg", tmp_path / "e.jpg", row="e")]  # copy still there
    (views / "e.jpg").write_bytes(b"e")
    journal.intend(ops)
    journal.close()
    os.link(tmp_path / "b.jpg", views / "b.jpg")
    os.rename(tmp_path / "c.jpg", views / "c.jpg")
    (views / "d.jpg").write_bytes(b"d")
    with open(journal.path, "ab") as handle:
        handle.write(b'{"done": 0, "took')  # a half-written line: the batch is still pending

    recorded = []
    again = MoveJournal(journal.path)
    finished, forgotten = again.recover(lambda done: recorded.extend(op["row"] for op in done))
    assert recorded == ["b", "c", "d"] == [op["row"] for op in finished]
    assert [op["row"] for op in forgotten] == ["a", "e"]
    assert (tmp_path / "a.jpg").exists() and not (views / "a.jpg").exists()
    assert not (tmp_path / "b.jpg").exists() and (views / "b.jpg").read_bytes() == b"b"
    assert (views / "e.jpg").exists()
    assert again.pending() == [] and [op["row"] for op in again.completed()] == ["b", "c", "d"]
    again.close()
    assert MoveJournal(journal.path).recover() == ([], [])  # nothing left to recover


def test_journal_run_skips_a_taken_destination_and_keeps_reasons(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"a")
    (tmp_path / "b.jpg").write_bytes(b"b")
    (tmp_path / "rejected").mkdir()
    (tmp_path / "rejected" / "b.jpg").write_bytes(b"the user's")
    journal = MoveJournal(tmp_path / "journal.jsonl")
    skipped = []
    done = journal.run([_op(MOVE, tmp_path / "a.jpg", tmp_path / "rejected" / "a.jpg",
                            reason="empty"),
                        _op(MOVE, tmp_path / "b.jpg", tmp_path / "rejected" / "b.jpg",
                            reason="empty")],
                       on_skip=lambda op, error: skipped.append(op["src"]))
    assert [op["src"] for op in done] == [str(tmp_path / "a.jpg")]
    assert skipped == [str(tmp_path / "b.jpg")]
    assert (tmp_path / "rejected" / "b.jpg").read_bytes() == b"the user's"
    assert journal.move_into(tmp_path, "b.jpg", "rejected", "broken") == "rejected/b~1.jpg"
    journal.close()
    reasons = [(Path(op["dst"]).name, op["reason"]) for op in
               MoveJournal(journal.path).completed()]
    assert reasons == [("a.jpg", "empty"), ("b~1.jpg", "broken")]


def test_kill_point_kills_at_the_nth_visit():
    code = """
        from cargen.safe_files import kill_point
        for visit in range(1, 6):
            print(visit, flush=True)
            kill_point("step")
    """
    result = run_child(code, kill_at="step:3")
    assert result.returncode == -signal.SIGKILL and result.stdout.split() == ["1", "2", "3"]
    assert run_child(code, kill_at="other:1").stdout.split() == ["1", "2", "3", "4", "5"]
