"""`grade batch`: grade every submission in a folder, N at a time, into a gradebook.

A submission is a folder of the blanks' .py files, a cloned repository with them in
exercises/, or a notebook (nbgrader's submitted/<student>/<assignment>/<assignment>.ipynb).
Each of N long-lived worker processes loads the course and MNIST once and grades one
submission at a time in-process, each student's code still in its own sandboxed child.
The supervisor hands out work, and kills and replaces a worker that overruns the per-
submission time limit or dies, so one broken submission never stops the batch.

Per student, out/<student>/ gets report.txt, results.json (Gradescope's schema; written last,
it marks the submission graded) and the plots; out/gradebook.csv has a row per student.
"""
import contextlib
import csv
import fcntl
import hashlib
import io
import multiprocessing
import os
import signal
import time
import traceback
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from grader import grading
from grader.blanks import MODULES

STATUSES = ("graded", "error", "timeout")


@dataclass
class Submission:
    student: str
    path: Path | None  # a folder of .py files or a .ipynb; None when nothing gradable was found
    problem: str = ""


def discover(root, assignment_id, out=None):
    """The submissions under root, one per student folder, in name order (never out itself,
    should the reports be written among the submissions)."""
    root = Path(root)
    if (root / "submitted").is_dir():  # an nbgrader course folder
        root = root / "submitted"
    skip = Path(out).resolve() if out else None
    return [locate(folder, assignment_id) for folder in sorted(root.iterdir())
            if folder.is_dir() and not folder.name.startswith(".") and folder.resolve() != skip]


def locate(folder, assignment_id):
    def has_modules(d):
        return any((d / f"{m}.py").is_file() for m in MODULES)

    for notebooks in (folder / assignment_id, folder):
        named = notebooks / f"{assignment_id}.ipynb"
        if named.is_file():
            return Submission(folder.name, named)
        candidates = sorted(notebooks.glob("*.ipynb")) if notebooks.is_dir() else []
        if len(candidates) == 1 and not has_modules(folder):
            return Submission(folder.name, candidates[0])
    for d in (folder, folder / "exercises"):
        if has_modules(d):
            return Submission(folder.name, d)
    return Submission(folder.name, None, f"no {', '.join(m + '.py' for m in MODULES)} (nor exercises/ holding "
                                         f"them, nor a notebook {assignment_id}.ipynb) in {folder}")


def fingerprint(sub, course, hidden_path):
    """What a grade depends on: the submission's files, course.yaml and the hidden vectors."""
    digest = hashlib.sha256()
    files = [sub.path] if sub.path and sub.path.is_file() else sorted(sub.path.rglob("*.py")) if sub.path else []
    for path in [*files, course.path, *([Path(hidden_path)] if hidden_path else [])]:
        digest.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def atomic_write(path, data):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    os.replace(tmp, path)


def previous(out, sub, print_):
    """The row of an earlier run for this exact submission, or None."""
    import json

    try:
        results = json.loads((out / sub.student / "results.json").read_text(encoding="utf-8"))
        if results["extra_data"]["fingerprint"] != print_:
            return None
        return row_from(sub.student, results, "graded", results["extra_data"].get("seconds", 0.0))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def row_from(student, results, status, seconds, message=""):
    parts = {}
    for test in results["tests"]:
        part = test["extra_data"]["part"]
        parts[part] = parts.get(part, 0.0) + test["score"]
    return {"student": student, "total": results["score"], "parts": parts, "status": status,
            "seconds": round(seconds, 2), "message": message}


# -- the worker ---------------------------------------------------------------------------------
class Gate(grading.Alone):
    """grading.Alone across the batch's workers: an flock on one file, shared while a worker
    runs public checks, exclusive while it runs hidden ones, so that no other student's code
    runs beside a hidden check. Each worker opens the file itself (flock locks belong to an
    open file, which a fork would share)."""

    def __init__(self, path):
        self.path, self.fd = path, None

    @contextlib.contextmanager
    def _held(self, mode):
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, mode)
        try:
            yield
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)

    def shared(self):
        return self._held(fcntl.LOCK_SH)

    def exclusive(self):
        return self._held(fcntl.LOCK_EX)


def grade_one(sub, course, load, hidden, hidden_path, out, plots=False, gate=grading.Alone()):
    """Grade one submission in this process; returns its gradebook row."""
    from rich.console import Console

    from grader import notebook
    from grader.report import dumps, gradescope, text_report

    start = time.perf_counter()
    where = out / sub.student
    where.mkdir(parents=True, exist_ok=True)
    (where / "results.json").unlink(missing_ok=True)  # until the new one is written, not graded
    try:
        if sub.path is None:
            raise notebook.NotebookError(sub.problem)
        folder = sub.path
        if sub.path.suffix == ".ipynb":  # the code that is graded, where the instructor can read it
            folder = notebook.write_submission(notebook.code_cells(sub.path), where / "code-from-notebook")
        graded = grading.grade(folder.resolve(), course, load, hidden, where, gate, plots)
    except (notebook.NotebookError, grading.GraderBroken) as exc:
        atomic_write(where / "report.txt", f"not graded: {exc}\n")
        return {"student": sub.student, "total": 0.0, "parts": {}, "status": "error",
                "seconds": round(time.perf_counter() - start, 2), "message": str(exc)}
    seconds = time.perf_counter() - start - graded.hidden_seconds
    if plots:
        grading.page(graded, course, seconds, where)
    text = io.StringIO()
    text_report(graded.results, course, seconds, Console(file=text, width=120), graded.footer)
    atomic_write(where / "report.txt", text.getvalue())
    results = gradescope(graded.results, seconds, "\n".join(graded.footer))
    results["extra_data"] = {"fingerprint": fingerprint(sub, course, hidden_path), "seconds": round(seconds, 2)}
    atomic_write(where / "results.json", dumps(results))
    return row_from(sub.student, results, "graded", seconds)


def worker(conn, course, load, hidden, hidden_path, out, plots):
    from grader import sandbox

    gate = Gate(out / ".hidden-checks.lock")
    def stopped(signum, frame):  # the supervisor's time limit: no child may outlive this worker
        sandbox.kill_all()
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the supervisor's to handle
    signal.signal(signal.SIGTERM, stopped)
    while True:
        sub = conn.recv()
        if sub is None:
            return
        try:
            row = grade_one(sub, course, load, hidden, hidden_path, out, plots, gate)
        except Exception as exc:  # a bug of ours must not take the batch down either
            row = {"student": sub.student, "total": 0.0, "parts": {}, "status": "error", "seconds": 0.0,
                   "message": f"ERROR in the grader: {type(exc).__name__}: {exc}"}
            traceback.print_exc()
        conn.send(row)


# -- the supervisor -----------------------------------------------------------------------------
class Slot:
    """One worker process and what it is grading."""

    def __init__(self, context, args):
        self.conn, child = context.Pipe()
        self.process = context.Process(target=worker, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.sub, self.since = None, None

    def give(self, sub):
        self.sub, self.since = sub, time.monotonic()
        self.conn.send(sub)

    def stop(self, kill=False):
        if kill:  # SIGTERM first: the worker kills its sandboxed children, then itself
            self.process.terminate()
            self.process.join(5)
        else:
            try:
                self.conn.send(None)
            except OSError:
                pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def run(subs, course, load, hidden, hidden_path, out, jobs, timeout, force=False, on_done=None, plots=False):
    """Grade subs with `jobs` workers; returns the gradebook rows (in subs' order) and how
    many were skipped as already graded."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows, todo, skipped = {}, deque(), 0
    for sub in subs:
        row = None if force or sub.path is None else previous(out, sub, fingerprint(sub, course, hidden_path))
        if row is not None:
            rows[sub.student], skipped = row, skipped + 1
            if on_done:
                on_done(row)
        else:
            todo.append(sub)
    context = multiprocessing.get_context("fork")  # workers inherit the loaded data, no copy
    args = (course, load, hidden, hidden_path, out, plots)
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
                row = None
                if slot.conn in ready:
                    try:
                        row = slot.conn.recv()  # the worker answered: it can take the next one
                    except (EOFError, OSError):
                        pass
                if row is not None:
                    slot.sub = None
                elif slot.process.sentinel in ready or slot.conn in ready:
                    row = replace(slots, i, context, args, "error",
                                  f"the grading process died (exit code {slot.process.exitcode})")
                elif now - slot.since > timeout:
                    row = replace(slots, i, context, args, "timeout", f"grading took longer than {timeout:g} s")
                if row is not None:
                    rows[row["student"]] = row
                    if on_done:
                        on_done(row)
    finally:
        for slot in slots:
            slot.stop(kill=slot.sub is not None)
    return [rows[s.student] for s in subs], skipped


def replace(slots, i, context, args, status, message):
    """Kill slot i's worker (its sandboxed children die with it), start a fresh one, and
    return the row of the submission it was grading."""
    slot = slots[i]
    slot.stop(kill=True)
    slots[i] = Slot(context, args)
    return {"student": slot.sub.student, "total": 0.0, "parts": {}, "status": status,
            "seconds": round(time.monotonic() - slot.since, 2), "message": message}


def write_gradebook(path, rows, course):
    """One row per student: total, each part's points, status, seconds, message."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["student", "total", *course.parts, "status", "seconds", "message"])
    for row in rows:
        writer.writerow([row["student"], f"{row['total']:.2f}",
                         *(f"{row['parts'].get(p, 0.0):.2f}" for p in course.parts),
                         row["status"], f"{row['seconds']:.2f}", row["message"]])
    atomic_write(Path(path), text.getvalue())
