"""The child's watchdog: a call of the student's code that runs past limits.call_seconds ends
at once, and the reply says which blank it was stuck in, where, and (in training) when.

Before this, the parent's clock was the only one: it knew which request ran late, not which
blank. An endless loop in relu_prime then cost its own check's 10 s, again 10 s in every
check whose blank calls it (hidden_delta, backward), and in training the whole
limits.training_seconds (300 s: five minutes of a student's waiting, issue 15). Now the child
times each request (and, in training, each role call: hidden, output, loss, backward,
update -- two attribute writes each, about 7 ms over a whole MNIST run). A thread wakes a few
times a second; when the call in progress is older than the limit, it reads the main
thread's stack (sys._current_frames), finds the innermost frame of a blank in the
submission's own files, writes the reply itself (kind "timeout", with that blank's name, file
and line) and ends the process: no exception has to travel back through the student's code,
which could catch it. The parent then calls that blank no more (Sandbox.hung): where another
blank calls it, it raises at once (NotAgain, see worker.run).

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
        self.main = threading.get_ident()
        self.done = threading.Event()
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
        """A training request: its role calls are timed one by one (watched), and the reply says
        the epoch and batch."""
        self.request, self.epoch, self.batch, self.batches = request, 1, 0, batches
        try:
            yield
        finally:
            self.batches = 0

    def watched(self, role: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """fn, timed while it runs (backward counts the batches: one call per batch)."""

        def call(*args: Any) -> Any:
            if role == "backward":
                self.batch += 1
            self.role, self.since = role, time.monotonic()
            try:
                return fn(*args)
            finally:
                self.since = None

        return call

    def next_epoch(self) -> None:
        self.epoch, self.batch = self.epoch + 1, 0

    def _watch(self) -> None:
        poll = min(0.25, self.seconds / 10)
        while not self.done.wait(poll):
            since = self.since
            if since is None or time.monotonic() - since <= self.seconds:
                continue
            with self.lock:
                if self.since is not since:  # it returned meanwhile
                    continue
                self.write({"id": self.request, "ok": False, "kind": "timeout", **self.where()})
                os._exit(0)  # the reply is out; nothing of this call may follow it

    def where(self) -> dict[str, str]:
        """The reply's message and place: the innermost blank the main thread is in (its name in
        "blank", for the parent's Sandbox.hung), the blanks that called it, and in training the
        epoch and batch."""
        frame = sys._current_frames().get(self.main)
        chain = []  # innermost first: (name, file, line)
        while frame is not None:
            code = frame.f_code
            if code.co_filename.startswith(self.folder) and code.co_name in self.names:
                chain.append((code.co_name, code.co_filename, frame.f_lineno))
            frame = frame.f_back
        if self.batches:
            at = f" at epoch {self.epoch}, batch {self.batch} of {self.batches}"
            stopped = "so training stopped there"
        else:
            at, stopped = "", "and was stopped"
        limit = f"did not finish within {self.seconds:g} s{at} (an endless loop?), {stopped}"
        if not chain:
            return {"message": f"{self.role} {limit}", "blank": self.role}
        name, file, line = chain[0]
        callers = [c[0] for c in chain[1:]]
        called = f" (called by {', '.join(callers)})" if callers else ""
        source = linecache.getline(file, line).strip()
        return {
            "message": f"{name}{called} {limit}",
            "blank": name,
            "where": f"{Path(file).name}:{line} in {name}: {source}",
        }
