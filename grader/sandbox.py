"""Run student code in a child process and talk to it in plain arrays.

The grader never imports the submission. A child process (grader.worker) does, and the
grader asks it to call one blank at a time, each call under a timeout. If the child
raises, exits, crashes or hangs, the call fails with a StudentError that says so, the
child is replaced, and the next call starts afresh.
"""
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.blanks import BLANKS
from grader.protocol import ProtocolError, read_message, write_message

GRADER_ROOT = str(Path(__file__).resolve().parent.parent)
# -I: ignore PYTHON* variables, the user's site-packages and the current folder, so
# nothing in the submission folder is imported before the worker decides to.
BOOT = "import sys; sys.path.insert(0, sys.argv[4]); from grader.worker import main; main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])"


STARTUP_SECONDS = 60  # a cold start on a busy machine; student code has not run yet


class StudentError(Exception):
    """A call into student code failed. kind: not_implemented, exception, exit, bad_return,
    timeout, crash or protocol; str(self) is the one line a student needs."""

    def __init__(self, kind, message, where=None):
        super().__init__(message)
        self.kind, self.where = kind, where

    def __str__(self):
        text = self.args[0]
        return f"{text} (at {self.where})" if self.where else text


class Timeout(Exception):
    pass


class Sandbox:
    def __init__(self, folder, call_timeout=10.0):
        self.folder = Path(folder).resolve()
        self.call_timeout = call_timeout
        self.proc = None

    # -- the child's life -------------------------------------------------------------
    def start(self):
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        self.log = tempfile.TemporaryFile()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PYTEST"))}
        env["MPLBACKEND"] = "Agg"
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, str(req_r), str(resp_w), str(self.folder), GRADER_ROOT],
            pass_fds=(req_r, resp_w), stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            cwd=self.folder, env=env, start_new_session=True)
        os.close(req_r)
        os.close(resp_w)
        self.to_child, self.from_child = req_w, resp_r
        # Wait for the worker's "ready" (interpreter and numpy loaded) so that the first
        # call's timeout measures the student's code, not our start-up.
        deadline = time.monotonic() + STARTUP_SECONDS
        try:
            ready = read_message(self.from_child, lambda fd: self._wait(fd, deadline))
        except (Timeout, ProtocolError):
            ready = None
        if ready != {"ready": True}:
            self._kill()
            described = self.exit_description()
            self.stop()
            raise StudentError("crash", f"the grader's worker process did not start: it {described}")

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the whole group: no orphan survives
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    @staticmethod
    def _wait(fd, deadline):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise Timeout

    def stop(self):
        if self.proc is None:
            return
        for fd in (self.to_child, self.from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._kill()
        self.log.close()
        self.proc = None

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def exit_description(self):
        """How the child ended; call only once it has (or after _kill)."""
        code = self.proc.wait()
        self.log.seek(0, os.SEEK_END)
        self.log.seek(max(0, self.log.tell() - 400))
        tail = self.log.read().decode(errors="replace").strip().splitlines()
        last = f"; its last output: {tail[-1]!r}" if tail else ""
        if code < 0:
            return f"was killed by signal {signal.Signals(-code).name}{last}"
        return f"exited with code {code} (os._exit or a crash?){last}"

    # -- one request ----------------------------------------------------------------------
    def request(self, message, what, timeout, on_progress=None):
        if self.proc is None:
            self.start()
        deadline = time.monotonic() + timeout
        wait = lambda fd: self._wait(fd, deadline)  # noqa: E731

        try:
            write_message(self.to_child, message)
            while True:
                reply = read_message(self.from_child, wait)
                if reply is None:
                    raise ConnectionError
                if isinstance(reply, dict) and "progress" in reply:
                    if on_progress:
                        on_progress(reply["progress"], reply["total"])
                    continue
                break
        except Timeout:
            self.stop()
            raise StudentError("timeout", f"{what} did not finish within {timeout:g} s (an endless loop?)") from None
        except (ConnectionError, BrokenPipeError, ProtocolError) as exc:
            try:  # a child that exited closes the pipe a moment before it can be reaped
                self.proc.wait(timeout=0.5)
                alive = False
            except subprocess.TimeoutExpired:
                alive = True
            if alive:  # alive but talking nonsense or hanging up: end it
                self._kill()
                described = "closed or garbled its connection to the grader" + (f": {exc}" if str(exc) else "")
            else:
                described = self.exit_description()
            self.stop()
            raise StudentError("crash", f"the process running {what} {described}") from None
        if not isinstance(reply, dict) or "ok" not in reply:
            self.stop()
            raise StudentError("protocol", f"the process running {what} sent a malformed reply")
        if not reply["ok"]:
            raise StudentError(reply.get("kind", "exception"), reply.get("message", "failed"), reply.get("where"))
        return reply

    # -- the narrow interface ---------------------------------------------------------------
    def call(self, fn, *args, echo=False):
        """Call blank fn on plain arguments; return its result as float64 arrays.
        With echo=True return (result, arguments as the child saw them after the call)."""
        assert fn in BLANKS, fn
        reply = self.request({"op": "call", "fn": fn, "args": list(args), "echo": echo}, fn, self.call_timeout)
        self.last_warnings = reply["warnings"]
        return (reply["result"], reply["args_after"]) if echo else reply["result"]

    def map(self, fn, args_list):
        """Call fn once per argument tuple, in one round trip; returns the list of results."""
        reply = self.request({"op": "map", "fn": fn, "args_list": [list(a) for a in args_list]}, fn,
                             self.call_timeout)
        self.last_warnings = reply["warnings"]
        return reply["result"]

    def train(self, sizes, budget, data, timeout, on_progress=None):
        """Train on MNIST in the child with the grader's own loop and the student's blanks.
        Returns (params, history, seconds)."""
        reply = self.request({"op": "train", "sizes": list(sizes), "budget": budget, "data": data},
                             "training", timeout, on_progress)
        result = reply["result"]
        return result["params"], result["history"], reply["seconds"]
