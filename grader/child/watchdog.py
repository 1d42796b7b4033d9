"""The child's watchdog: a call of the student's code that runs past limits.call_seconds ends
at once, and the reply says which blank it was stuck in, where, and (in training) when.

Before this, the parent's clock was the only one: it knew which request ran late, not which
blank. An endless loop in relu_prime then cost its own check's 10 s, again 10 s in every
check whose blank calls it (hidden_delta, backward), and in training the whole
limits.training_seconds (300 s: five minutes of a student's waiting, issue 15). Now the child
times each request (and, in training, each batch: an attribute write or two per batch). A
thread wakes a few times a second; when the call in progress is older than the limit, it reads
the main thread's stack (sys._current_frames) for the innermost frame of a blank in the
submission's own files, writes the reply itself (kind "timeout": what was timed, and where it
was) and ends the process: no exception has to travel back through the student's code, which
could catch it. The parent then calls the blank it timed no more (Sandbox.hung): where another
blank calls that one, it raises at once (NotAgain, see worker.run).

What it says is the child's account, like everything the child says: it can only cost the
student's own checks. The parent keeps its own deadlines over every request (a loop in C
code, or student code that patched the clock, meets those instead).
"""

from __future__ import annotations

import contextlib
import linecache
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# In training the child also says it is alive, at the start of a batch at most every BEAT
# seconds (and after each role's file is imported): the grader kills a training that says
# nothing for longer than a batch may take (Sandbox.train), which is what stops a loop this
# watchdog cannot (C code that never lets Python run), in seconds rather than training_seconds.
BEAT = 0.5


class NotAgain(Exception):
    """A blank that ran out of time earlier, called again from another blank: it fails at once."""


class Watchdog:
    def __init__(self, seconds: float, folder: str, names: set[str], write: Callable[[dict[str, Any]], None]) -> None:
        """seconds: limits.call_seconds; folder: the submission's (its frames are the student's);
        names: the functions that count as the student's (blanks and provided ones);
        write(message) sends a reply to the parent."""
        self.seconds, self.folder, self.names, self.write = seconds, folder + os.sep, names, write
        self.lock = threading.Lock()  # held by every reply the main thread writes, and by the watchdog's
        self.request: str | None = None  # the id the reply answers
        self.role: str = ""  # what runs: a blank, or a training role
        self.since: float | None = None  # when it started; None between calls
        self.epoch, self.batch, self.batches = 0, 0, 0  # in training
        self.beaten = 0.0  # when it last said it is alive (beat)
        self.main = threading.get_ident()
        threading.Thread(target=self._watch, name="grade-watchdog", daemon=True).start()

    @contextlib.contextmanager
    def running(self, request: str, what: str) -> Iterator[None]:
        """Time one request's call of the student's code."""
        self.request, self.role, self.since = request, what, time.monotonic()
        try:
            yield
        finally:
            self.since = None

    @contextlib.contextmanager
    def training(self, request: str, batches: int) -> Iterator[None]:
        """A training request: each batch is timed (begin()), whatever runs in it -- the role
        calls, and the kit's own loop around them, which touches what the student's functions
        returned (a dict whose __getitem__ never returns hung it, red team); the reply says the
        epoch and batch, and the role that was running (watched)."""
        self.request, self.epoch, self.batch, self.batches = request, 1, 0, batches
        self.beaten = 0.0  # the first batch says where it is
        try:
            yield
        finally:
            self.since, self.batches = None, 0

    def begin(self, epoch: int, index: int) -> None:
        """A batch begins (child/network.py's on_batch): its time starts now."""
        self.epoch, self.batch, self.since = epoch, index, time.monotonic()
        if self.since - self.beaten >= BEAT:
            self.beat()

    def beat(self) -> None:
        """Tell the grader the training is alive, and where it is."""
        self.beaten = time.monotonic()
        with self.lock:
            self.write({"id": self.request, "progress": "alive", "epoch": self.epoch, "batch": self.batch})

    def watched(self, role: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """fn, noted as the role running (for the reply) while it runs."""

        def call(*args: Any) -> Any:
            self.role = role
            try:
                return fn(*args)
            finally:
                self.role = "training loop"

        return call

    def _watch(self) -> None:
        poll = min(0.25, self.seconds / 10)
        while True:
            time.sleep(poll)
            since = self.since
            if since is None or time.monotonic() - since <= self.seconds:
                continue
            with self.lock:
                if self.since is not since:  # it returned meanwhile
                    continue
                self.write({"id": self.request, "ok": False, "kind": "timeout", **self.where()})
                os._exit(0)  # the reply is out; nothing of this call may follow it

    def where(self) -> dict[str, str]:
        """The reply's message and place: what was timed (the request's blank, or in training the
        batch), and the innermost blank the main thread was in when it was stopped, with the
        blanks that called it -- the child's account, for the message only: the grader marks
        what it timed (Sandbox.hung), never the blank named here."""
        frame = sys._current_frames().get(self.main)
        chain = []  # innermost first: (name, file, line)
        while frame is not None:
            code = frame.f_code
            if code.co_filename.startswith(self.folder) and code.co_name in self.names:
                chain.append((code.co_name, code.co_filename, frame.f_lineno))
            frame = frame.f_back
        if self.batches:
            message = (
                f"training stopped at epoch {self.epoch}, batch {self.batch} of {self.batches}: that batch did not "
                f"finish within {self.seconds:g} s (an endless loop?)"
            )
        else:
            message = f"{self.role} did not finish within {self.seconds:g} s (an endless loop?), and was stopped"
        if not chain:
            return {"message": message + (f"; it was in {self.role}" if self.batches else "")}
        name, file, line = chain[0]
        callers = [c[0] for c in chain[1:]]
        inside = name != self.role or callers
        if inside:
            message += f"; it was in {name}" + (f", called by {', '.join(callers)}" if callers else "")
        source = linecache.getline(file, line).strip()
        return {"message": message, "where": f"{Path(file).name}:{line} in {name}: {source}"}
