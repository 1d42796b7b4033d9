"""`grade batch SUBMISSIONS --cluster tcp://HOST:PORT`: the batch graded on a Dask distributed
cluster (`pip install '<package>[cluster]'` adds `distributed`), for classes that outgrow one
machine. Everything else is as with `-j`: the gradebook, the per-student reports, fingerprints
and re-runs, the per-student timeout.

Each Dask worker grades one submission at a time, in a grading process of its own (Grader: a
fresh interpreter running batch.worker, the `-j` worker), started the first time the Dask
worker is given a submission: it loads the course, MNIST and the hidden vectors once, and
grades with the same sandbox, limits and isolation. A grading process that overruns --timeout
or dies is killed and replaced, and its student gets a timeout or error row, as with `-j`.
Hidden checks run while no other student's code runs on that machine: the grading processes of
a machine's Dask workers share one lock (host_lock), as a local batch's workers share the Gate.
Run one Dask worker per core (`dask worker --nworkers N --nthreads 1`). A Dask worker that dies
is Dask's to replace: its submission goes to another worker, and one that kept killing workers
(Dask's `allowed-failures`, 3 by default) gets an error row; none is lost.

The cluster must see the same files at the same paths: the course kit (course.yaml, exercises/,
hidden/), the MNIST folder, the submissions and --out (a shared file system, as on Slurm or PBS;
on Kubernetes, one volume mounted in every pod). The client opens no student file; it trains
the reference once, as a local batch does, and sends its weights to every worker.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.errors import GradeError
from grader.platforms.batch import Row, Submission, error_row

if TYPE_CHECKING:
    from grader.grading.scoring import Params


class ClusterError(GradeError):
    """The cluster cannot be used: distributed is not installed, or the scheduler is not there."""


@dataclass(frozen=True)
class Job:
    """What every Dask worker needs to grade this batch's submissions (the same for all of them)."""

    course: str  # course.yaml's path
    assignment: str
    data_dir: str  # the MNIST folder the client read
    hidden: str | None  # the hidden vectors' path
    out: str
    plots: bool
    force: bool
    timeout: float


# -- on each Dask worker -------------------------------------------------------------------------
_ONE_AT_A_TIME = threading.Lock()  # a Dask worker's threads take turns: hidden checks run alone
_GRADER: dict[str, Any] = {}  # the worker's grading process and the job it was started for


class Grader:
    """A grading process of the Dask worker's: `python -m grader.platforms.cluster FD PARENT`, which runs
    batch.worker (the `-j` worker) on a pipe. Not multiprocessing's Process: a Dask worker under
    its nanny is a daemonic process, which multiprocessing forbids children; and a fresh
    interpreter inherits none of the worker's threads (its event loop) or their locks."""

    def __init__(self, job: Job, reference: Params | None) -> None:
        ours, theirs = multiprocessing.Pipe()
        self.conn = ours
        self.process = subprocess.Popen(
            [sys.executable, "-m", "grader.platforms.cluster", str(theirs.fileno()), str(os.getpid())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.PIPE,
        )
        theirs.close()
        assert self.process.stdin is not None  # stdin=PIPE
        with self.process.stdin as stdin:  # the job, from this trusted parent: read once by the child
            pickle.dump((job, reference), stdin)

    def stop(self) -> None:
        """SIGTERM first: batch.worker kills its sandboxed children and cleans up, then exits."""
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.conn.close()


def serve(fd: int) -> None:
    """The grading process's side (python -m grader.platforms.cluster FD PARENT): load the job's course,
    hidden vectors and MNIST once, then grade what comes over the pipe."""
    from multiprocessing.connection import Connection

    from grader import config
    from grader.data import mnist
    from grader.grading import vectors
    from grader.platforms.batch import worker

    die_with_parent(int(sys.argv[2]))
    job, reference = pickle.load(sys.stdin.buffer)
    conn = Connection(fd)
    course = config.load(job.course, job.assignment)
    hidden = vectors.load_hidden(job.hidden, course.blanks) if job.hidden else None
    try:  # now, not at the first submission: a worker without MNIST grades nobody at 75 points
        data = mnist.load_mnist(job.data_dir)  # the folder the client read; a worker never downloads
    except Exception as exc:
        while (sub := conn.recv()) is not None:
            conn.send(error_row(sub.student, f"not graded: this Dask worker cannot read MNIST ({exc})"))
        return
    worker(conn, course, lambda: data, hidden, job.hidden, Path(job.out), job.plots, reference, job.force, host_lock())


def die_with_parent(parent: int) -> None:
    """SIGTERM this grading process when its Dask worker dies (Linux's parent-death signal):
    batch.worker's handler then kills its sandboxed children. Without it a SIGKILLed worker
    left it grading on, past --timeout, and writing a report the gradebook did not have (red
    team)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the worker's own shutdown stops it
        return
    if os.getppid() != parent:  # the worker died before the signal was asked for (a worker may be PID 1)
        os._exit(1)


def host_lock() -> int:
    """The Gate's file (batch.Gate) for every grading process of this machine's Dask workers, so
    that hidden checks run while no other student's code runs on the machine, as with `-j`. A
    file by name in the grader's temporary folder: student code, which --cluster only runs in
    bubblewrap (see usable), has a /tmp of its own and never sees it."""
    import tempfile

    path = Path(tempfile.gettempdir()) / f"grade-cluster-{os.getuid()}.lock"
    return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)


def _grader(job: Job, reference: Params | None) -> Grader:
    """This Dask worker's grading process for job, started once (again after a kill)."""
    grader = _GRADER.get("grader")
    if grader is not None and _GRADER.get("job") == job and grader.process.poll() is None:
        return grader
    if grader is not None:
        grader.stop()
    _GRADER.update(grader=Grader(job, reference), job=job)
    return _GRADER["grader"]


def grade(sub: Submission, job: Job, reference: Params | None) -> Row:
    """One submission, graded on this Dask worker (the task the client submits)."""
    with _ONE_AT_A_TIME:
        from grader.sandbox import process as sandbox

        if not sandbox.isolated("auto"):  # see usable(): no student code with the network beside the scheduler
            return error_row(
                sub.student,
                "not graded: this Dask worker cannot isolate student code (bubblewrap does not work here), and "
                "without isolation it would have the network, and the cluster's scheduler with it",
            )
        grader = _grader(job, reference)
        grader.conn.send(sub)
        deadline, paused = time.monotonic() + job.timeout, None
        while True:
            left = (deadline - time.monotonic()) if paused is None else job.timeout
            if left > 0 and grader.conn.poll(min(left, 1.0)):
                try:
                    message = grader.conn.recv()
                except (EOFError, OSError):  # it died: its end of the pipe closed
                    message = None
                if isinstance(message, dict):
                    return message
                if isinstance(message, tuple) and message[:1] == ("waiting",):  # for another's hidden checks
                    if message[1]:
                        paused = time.monotonic()
                    elif paused is not None:  # the clock stood still meanwhile, as with -j
                        deadline, paused = deadline + time.monotonic() - paused, None
                    continue
                status, why = "error", f"the grading process died (exit code {grader.process.wait()})"
            elif left > 0:
                if grader.process.poll() is None:
                    continue
                status, why = "error", f"the grading process died (exit code {grader.process.returncode})"
            else:
                status, why = "timeout", f"grading took longer than {job.timeout:g} s"
            grader.stop()
            _GRADER.clear()  # the next submission starts a fresh one
            return error_row(sub.student, why, job.timeout if status == "timeout" else 0.0, status)


# -- on the client --------------------------------------------------------------------------------
def usable(isolation: str) -> None:
    """Refuse a course without isolation, before anything is loaded or trained: a Dask scheduler
    runs what any client that reaches it sends, and student code without bubblewrap has the
    network (a worker that cannot isolate gives its submissions error rows, see grade)."""
    if isolation == "off":
        raise ClusterError(
            "--cluster needs isolation (course.yaml's isolation: auto or required): without bubblewrap, student "
            "code has the network, and a Dask scheduler runs whatever a client there sends it"
        )


def run(
    address: str,
    subs: Sequence[Submission],
    job: Job,
    reference: Params | None,
    on_done: Callable[[Row], object] | None = None,
) -> tuple[list[Row], int]:
    """Grade subs on the cluster at address; returns the gradebook rows (in subs' order) and how
    many were skipped as already graded, as batch.run does (see usable() first)."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ClusterError(
            "--cluster needs Dask's distributed: pip install 'nn-from-scratch-grader[cluster]'"
        ) from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"--cluster {address}: no Dask scheduler answers there ({exc})") from None
    rows: dict[str, Row] = {}
    with client:
        if not client.scheduler_info().get("workers"):
            client.wait_for_workers(1, timeout=60)
        shared = client.scatter(reference, broadcast=True) if reference is not None else None
        futures = {
            client.submit(grade, sub, job, shared, key=f"grade-{i}-{sub.report}", pure=False): sub
            for i, sub in enumerate(subs)
        }
        for future in as_completed(futures):
            sub = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # the task's worker died every time Dask tried it (KilledWorker), or worse
                row = error_row(sub.student, f"the Dask workers grading it died ({type(exc).__name__}: {exc})")
            rows[sub.report] = row
            if on_done:
                on_done(row)
    skipped = sum(bool(row.pop("unchanged", False)) for row in rows.values())
    return [rows[s.report] for s in subs], skipped


if __name__ == "__main__":  # a Dask worker's grading process (Grader)
    serve(int(sys.argv[1]))
