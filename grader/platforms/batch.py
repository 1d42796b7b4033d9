"""`grade batch`: grade every submission in a folder, N at a time, into a gradebook.

A submission is a student's folder: the blanks' .py files, a cloned repository with them in
exercises/, or a notebook (nbgrader's submitted/<student>/<assignment>/<assignment>.ipynb).
Each of N long-lived worker processes loads the course and MNIST once and grades one
submission at a time in-process: it copies the student's regular files into a folder of its
own (intake.py), and each student's code runs in its own sandboxed children under one bound
(bounds.py). The supervisor never opens a student's file: it hands out folder names, and kills
and replaces a worker that overruns the per-submission time limit or dies, so one broken
submission never stops the batch. Time a worker spends waiting for another's hidden checks
is not charged to its student.

Per student, out/students/<student>/ gets report.txt, results.json (Gradescope's schema;
written last, it marks the submission graded) and the plots; out/gradebook.csv has a row per
student, and with --format canvas out/canvas.csv holds the same scores for Canvas's import.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import multiprocessing
import os
import signal
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.files import atomic_write
from grader.grading import session as grading
from grader.grading.intake import shown
from grader.reports.formats import fmt

if TYPE_CHECKING:
    from grader.config import Course
    from grader.grading.intake import Taken
    from grader.grading.scoring import Params
    from grader.grading.vectors import Cases

Row = dict[str, Any]  # a gradebook row: student, total, parts, status, seconds, message

STATUSES = ("graded", "error", "timeout")
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a cell a spreadsheet would run (OWASP's CSV injection)


@dataclass
class Submission:
    student: str  # the folder's name, as text (bytes that are not UTF-8 escaped)
    path: Path | None  # the student's folder; None when it is not one (problem says why)
    report: str = ""  # the name of its report folder under out/students/
    problem: str = ""


def discover(root: Path | str, out: Path | str | None = None) -> list[Submission]:
    """The student folders under root, in name order (never out itself, should the reports be
    written among the submissions). Nothing is followed: an entry that is a symbolic link is a
    student whose submission is refused, with a row that says why."""
    root = Path(root)
    if (root / "submitted").is_dir():  # an nbgrader course folder
        root = root / "submitted"
    skip = Path(out).resolve() if out else None
    subs, reports = [], set()
    for entry in sorted(os.scandir(root), key=lambda e: os.fsencode(e.name)):
        if entry.name.startswith(".") or (not entry.is_symlink() and Path(entry.path).resolve() == skip):
            continue
        name = shown(entry.name)
        report = name
        while report.casefold() in reports:  # two names alike once escaped (or by case, on macOS)
            report += "_"
        if entry.is_symlink():
            sub = Submission(
                name,
                None,
                report,
                f"{name} is a symbolic link: a submission is a folder of regular files, never a link to one",
            )
        elif entry.is_dir(follow_symlinks=False):
            sub = Submission(name, Path(entry.path), report)
        else:
            continue
        reports.add(report.casefold())
        subs.append(sub)
    return subs


def fingerprint(taken: Taken, course: Course, hidden_path: Path | str | None) -> str:
    """What a grade depends on: the files read from the submission (names as bytes), course.yaml
    and the hidden vectors."""
    digest = hashlib.sha256()
    for name, data in taken.files.items():
        digest.update(os.fsencode(name) + b"\0" + hashlib.sha256(data).digest())
    for path in [course.path, *([Path(hidden_path)] if hidden_path else [])]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def previous(where: Path, student: str, print_: str) -> Row | None:
    """The row of an earlier run for this exact submission, or None."""
    try:
        results = json.loads((where / "results.json").read_text(encoding="utf-8"))
        if results["extra_data"]["fingerprint"] != print_:
            return None
        row = row_from(student, results, "graded", results["extra_data"].get("seconds", 0.0))
        row["unchanged"] = True
        return row
    except (OSError, ValueError, KeyError, TypeError):
        return None


def row_from(student: str, results: dict[str, Any], status: str, seconds: float, message: str = "") -> Row:
    parts: dict[str, float] = {}
    for test in results["tests"]:
        part = test["extra_data"]["part"]
        parts[part] = parts.get(part, 0.0) + test["score"]
    return {
        "student": student,
        "total": results["score"],
        "parts": parts,
        "status": status,
        "seconds": round(seconds, 2),
        "message": message,
    }


def error_row(student: str, message: str, seconds: float = 0.0, status: str = "error") -> Row:
    return {
        "student": student,
        "total": 0.0,
        "parts": {},
        "status": status,
        "seconds": round(seconds, 2),
        "message": message,
    }


# -- the worker ---------------------------------------------------------------------------------
class Gate(grading.Alone):
    """grading.Alone across the batch's workers: a lock shared while a worker runs public
    checks, exclusive while it runs hidden ones, so that no other student's code runs beside a
    hidden check. The locked file has no name (see lock_file), and the locks are POSIX record
    locks, which belong to a process, so workers inheriting the one file still exclude each
    other. waiting(True/False) tells the supervisor when this worker waits for the lock, so that
    its clock stops meanwhile: a neighbour's slow checks are nobody's time."""

    def __init__(self, fd: int, waiting: Callable[[bool], object] = lambda on: None) -> None:
        self.fd, self.waiting = fd, waiting
        self.waited = 0.0  # seconds spent waiting for the shared lock, left out of the reported time

    def _held(self, mode: int) -> Iterator[None]:  # a generator for the context managers below
        try:
            fcntl.lockf(self.fd, mode | fcntl.LOCK_NB)
        except OSError:  # held by another worker
            self.waiting(True)
            start = time.perf_counter()
            fcntl.lockf(self.fd, mode)
            if mode == fcntl.LOCK_SH:  # a wait for the exclusive lock is in the hidden session's time already
                self.waited += time.perf_counter() - start
            self.waiting(False)
        try:
            yield
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        yield from self._held(fcntl.LOCK_SH)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        yield from self._held(fcntl.LOCK_EX)


def lock_file() -> int:
    """The file the Gate locks: one with no name, made before the workers fork. A named one
    (out/.hidden-checks.lock) could be opened and locked by a student's daemon without isolation
    (the child may read what the grader can), which stopped every worker for good (red team)."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("grade-hidden-checks")  # close-on-exec: workers fork, children exec
    with tempfile.TemporaryFile() as handle:  # unlinked at once: no name either
        return os.dup(handle.fileno())


def grade_one(
    sub: Submission,
    course: Course,
    load: Callable[[], Any],
    hidden: Cases | None,
    hidden_path: Path | str | None,
    out: Path,
    plots: bool = False,
    gate: grading.Alone = grading.Alone(),
    reference: Params | None = None,
    force: bool = False,
) -> Row:
    """Grade one submission in this process; returns its gradebook row (with "unchanged": True
    when an earlier run graded these very files and force is off)."""
    from grader.grading import intake
    from grader.platforms import nbgrader
    from grader.reports.formats import Report, dumps, gradescope, render

    start, waited = time.perf_counter(), getattr(gate, "waited", 0.0)
    where = out / "students" / sub.report
    where.mkdir(parents=True, exist_ok=True)
    with intake.private_folder() as work:
        try:
            if sub.path is None:
                raise intake.SubmissionError(sub.problem)
            prepared = intake.prepare(sub.path, work, course)
            print_ = fingerprint(prepared.taken, course, hidden_path)
            row = None if force else previous(where, sub.student, print_)
            if row is not None:
                return row
            (where / "results.json").unlink(missing_ok=True)  # until the new one is written, not graded
            if prepared.where.endswith(".ipynb"):  # the code that is graded, where the instructor can read it
                shutil_copytree(prepared.folder, where / "code-from-notebook")
            graded = grading.grade(prepared.folder, course, load, hidden, where, gate, reference=reference)
        except (intake.SubmissionError, nbgrader.NotebookError, grading.GraderBroken) as exc:
            (where / "results.json").unlink(missing_ok=True)
            atomic_write(where / "report.txt", f"not graded: {exc}\n")
            return error_row(sub.student, str(exc), time.perf_counter() - start)
    graded.footer[:0] = prepared.notes
    # Neither the hidden session nor a wait for another's: a report's time says nothing of them
    seconds = time.perf_counter() - start - graded.hidden_seconds - (getattr(gate, "waited", 0.0) - waited)
    if plots:
        grading.page(graded, course, seconds, where)
    atomic_write(where / "report.txt", render("text", Report(graded.results, course, seconds, graded.footer)))
    results = gradescope(graded.results, seconds, "\n".join(graded.footer))
    results["extra_data"] = {"fingerprint": print_, "seconds": round(seconds, 2)}
    atomic_write(where / "results.json", dumps(results))
    return row_from(sub.student, results, "graded", seconds)


def shutil_copytree(source: Path, dest: Path) -> None:
    import shutil

    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(source, dest)


def worker(
    conn: Connection,
    course: Course,
    load: Callable[[], Any],
    hidden: Cases | None,
    hidden_path: Path | str | None,
    out: Path,
    plots: bool,
    reference: Params | None,
    force: bool,
    lock: int | None,
) -> None:
    """A grading process: submissions in from conn, rows out. lock: the Gate's file, shared with
    the batch's other workers; None where no other grading process runs beside it (a Dask
    worker's, see cluster.py)."""
    from grader.grading import intake
    from grader.sandbox import process as sandbox

    gate = Gate(lock, lambda on: conn.send(("waiting", on))) if lock is not None else grading.Alone()

    def stopped(signum, frame):  # the supervisor's time limit: no child, and no copy, may outlive this worker
        sandbox.kill_all(also=intake.remove_private_folders)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    signal.signal(signal.SIGTERM, stopped)
    while True:
        sub = conn.recv()
        if sub is None:
            return
        try:
            row = grade_one(sub, course, load, hidden, hidden_path, out, plots, gate, reference, force)
        except Exception as exc:  # a bug of ours must not take the batch down either
            row = error_row(sub.student, f"ERROR in the grader: {type(exc).__name__}: {exc}")
            traceback.print_exc()
        conn.send(row)


# -- the supervisor -----------------------------------------------------------------------------
class Slot:
    """One worker process, what it is grading, and for how long (the time it waited for the
    hidden checks' lock left out)."""

    def __init__(self, context: Any, args: tuple) -> None:  # context: multiprocessing's fork context
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.sub: Submission | None = None
        self.since = 0.0  # when it was given its submission (monotonic), less the time it waited
        self.paused: float | None = None

    def give(self, sub: Submission) -> None:
        self.sub, self.since, self.paused = sub, time.monotonic(), None
        self.conn.send(sub)

    def waiting(self, on: bool, now: float) -> None:
        if on and self.paused is None:
            self.paused = now
        elif not on and self.paused is not None:
            self.since += now - self.paused  # the clock stood still while it waited
            self.paused = None

    def elapsed(self, now: float) -> float:
        return (self.paused if self.paused is not None else now) - self.since

    def stop(self, kill: bool = False) -> None:
        if kill:  # SIGTERM first: the worker kills its sandboxed children, cleans up, then exits
            self.process.terminate()
            self.process.join(30)  # removing what a student left in shared folders may take a while
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def run(
    subs: Sequence[Submission],
    course: Course,
    load: Callable[[], Any],
    hidden: Cases | None,
    hidden_path: Path | str | None,
    out: Path | str,
    jobs: int,
    timeout: float,
    force: bool = False,
    on_done: Callable[[Row], object] | None = None,
    plots: bool = False,
    reference: Params | None = None,
) -> tuple[list[Row], int]:
    """Grade subs with `jobs` workers; returns the gradebook rows (in subs' order) and how
    many were skipped as already graded. reference: the reference's MNIST weights, trained once
    here, which every worker inherits (and never reads again from a cache a student could have
    written)."""
    out = Path(out)
    (out / "students").mkdir(parents=True, exist_ok=True)
    rows, todo = {}, deque(subs)
    context = multiprocessing.get_context("fork")  # workers inherit the loaded data, no copy
    lock = lock_file()
    args = (course, load, hidden, hidden_path, out, plots, reference, force, lock)
    slots = [Slot(context, args) for _ in range(min(jobs, len(todo)))]
    try:
        while todo or any(s.sub for s in slots):
            for slot in slots:
                if slot.sub is None and todo:
                    slot.give(todo.popleft())
            busy = [s for s in slots if s.sub]
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=1.0)
            now = time.monotonic()
            for i, slot in enumerate(slots):
                if slot.sub is None:
                    continue
                sub = slot.sub  # before the slot is freed or replaced below
                row = None
                if slot.conn in ready:
                    try:
                        message = slot.conn.recv()
                    except (EOFError, OSError):
                        message = None
                    if isinstance(message, tuple) and message[:1] == ("waiting",):
                        slot.waiting(message[1], now)
                        continue
                    row = message  # the worker answered: it can take the next one
                if row is not None:
                    slot.sub = None
                elif slot.process.sentinel in ready or slot.conn in ready:
                    row = replace(
                        slots,
                        i,
                        context,
                        args,
                        "error",
                        f"the grading process died (exit code {slot.process.exitcode})",
                    )
                elif slot.elapsed(now) > timeout:
                    row = replace(slots, i, context, args, "timeout", f"grading took longer than {timeout:g} s")
                if row is not None:
                    rows[sub.report] = row
                    if on_done:
                        on_done(row)
    finally:
        for slot in slots:
            slot.stop(kill=slot.sub is not None)
        os.close(lock)
    skipped = sum(bool(row.pop("unchanged", False)) for row in rows.values())
    return [rows[s.report] for s in subs], skipped


def replace(slots: list[Slot], i: int, context: Any, args: tuple, status: str, message: str) -> Row:
    """Kill slot i's worker (its sandboxed children die with it), start a fresh one, and
    return the row of the submission it was grading."""
    slot = slots[i]
    elapsed = slot.elapsed(time.monotonic())
    slot.stop(kill=True)
    slots[i] = Slot(context, args)
    assert slot.sub is not None, "replace is for a slot that was grading"
    return error_row(slot.sub.student, message, elapsed, status)


def cell(text: str) -> str:
    """A CSV cell no spreadsheet will take for a formula: OWASP's rule, a leading quote."""
    return f"'{text}" if text.startswith(FORMULA) else text


def write_csv(path: Path | str, lines: Iterable[Sequence[str]]) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(lines)
    atomic_write(Path(path), text.getvalue())


def write_gradebook(path: Path | str, rows: Iterable[Row], course: Course) -> None:
    """One row per student: total, each part's points, status, seconds, message. Moodle's CSV
    grade import takes it as it is (map `student` to a user field, `total` to a grade item)."""
    write_csv(
        path,
        [
            ["student", "total", *course.parts, "status", "seconds", "message"],
            *(
                [
                    cell(row["student"]),
                    fmt(row["total"]),
                    *(fmt(row["parts"].get(p, 0.0)) for p in course.parts),
                    row["status"],
                    f"{row['seconds']:.2f}",
                    cell(row["message"]),
                ]
                for row in rows
            ),
        ],
    )


CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


def write_canvas(path: Path | str, rows: Sequence[Row], course: Course) -> int:
    """The gradebook as Canvas's gradebook import reads it (the shape of its own export): the
    student columns, then one column named after the assignment (course.yaml's
    assignment.name), a "Points Possible" row with the assignment's points, then a row per
    student. Canvas's importer finds a student by ID, else SIS User ID, else SIS Login ID, else
    by name: the submission folder's name goes in SIS Login ID (and, for the import preview, in
    Student), so folders must be named by login. A submission that was not graded (error,
    timeout) gets an empty cell, which Canvas leaves as it was, rather than a 0 it would import.
    Returns how many were left empty."""
    empty = sum(row["status"] != "graded" for row in rows)
    total = sum(part.points for part in course.parts.values())
    write_csv(
        path,
        [
            [*CANVAS, course.assignment],
            ["Points Possible", "", "", "", "", fmt(total)],
            *(
                [
                    cell(row["student"]),
                    "",
                    "",
                    cell(row["student"]),
                    "",
                    fmt(row["total"]) if row["status"] == "graded" else "",
                ]
                for row in rows
            ),
        ],
    )
    return empty
