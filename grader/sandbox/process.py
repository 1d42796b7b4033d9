"""Run student code in a child process and talk to it in plain arrays.

The grader never imports the submission. A child process (grader.child.worker) does, and the
grader asks it to call one blank at a time. The child runs under resource limits (limits.py)
and, where the machine allows, in its own namespaces (isolation.py). Whatever comes back is
checked here, by trusted code: plain float64 arrays of the promised structure, finite. If
the child raises, exits, crashes, hangs or floods its output, the call fails with a
StudentError that says so, the whole process group is killed, and the next call starts a
fresh child.
"""

import contextlib
import itertools
import json
import math
import os
import secrets
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Self, overload

import numpy as np

from grader.child.blanks import Blank, to_json
from grader.child.limits import Limits, process_limit_problem
from grader.child.protocol import ProtocolError, Shared, read_message, write_message
from grader.config import Network
from grader.grading.gradcheck import VALUE_FLOOR, relative_error
from grader.sandbox import bounds, isolation

GRADER_ROOT = str(Path(__file__).resolve().parents[2])  # the folder that holds grader/
# -I: ignore PYTHON* variables, the user's site-packages and the current folder, so
# nothing in the submission folder is imported before the worker decides to. -u: what the
# student prints reaches the grader even if the child is then killed.
BOOT = (
    "import sys; sys.path.insert(0, sys.argv[4]); from grader.child.worker import main; "
    "main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[5])"
)
# Shared memory for the arguments of watched calls (a few KiB each) and for training's images
# (18 MB; all of MNIST's 60,000 are 47 MB): sparse, a page is memory only once written.
ARENA = 64 << 20
STARTUP_SECONDS = 60  # a cold start on a busy machine; student code has not run yet
# The child's whole environment: no variable of the grader's (tokens, GITHUB_*, data paths)
# reaches student code. One BLAS thread: children train side by side (the submission and
# the reference), and two busy-waiting OpenBLAS pools on two cores ran 60 times slower
# (126 s against 2.1 s, measured); one thread also fixes the order of float sums.
ONE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
ERRORS = {"crash", "timeout", "exit", "memory", "cpu", "protocol"}  # the process died or was killed
# How long past limits.call_seconds the grader waits for a call before it kills the child itself:
# the child's own watchdog stops the call at the limit and says which blank it was in
# (child/watchdog.py; it looks every 0.25 s at most), which the grader's clock cannot.
GRACE = 2.0
MAX_REPLY = 16 << 20  # a call's honest reply is KiBs; a forged one costs the grader at most 8 times this (protocol.py)
# A blank's answer as coerce() gives it, by the blank's `returns`: "array" and "scalar" an
# ndarray, "pair" a list of two, "dict" names to arrays.
Result = np.ndarray | list[np.ndarray] | dict[str, np.ndarray]


LIVE: set[int] = set()  # process groups of this process's running children (see kill_all)
WORKDIRS: set[str] = set()  # the working folders of running children without isolation (see kill_all)


def kill_all(also: Callable[[], object] = lambda: None) -> None:
    """Kill every child this process started and has not stopped: for a process about to be
    killed itself (grade batch's worker, stopped at its time limit), whose children would
    otherwise outlive it when they are not in bubblewrap (--die-with-parent). Then, quickest
    first: the children's working folders, also(), and what they left in shared folders."""
    for pgid in list(LIVE):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    LIVE.clear()

    def before_files() -> None:  # was a lambda making a tuple of two Nones, which mypy refuses
        remove_workdirs()
        also()

    bounds.close_all(before_files=before_files)  # and what they forked, wherever it went


def remove_workdirs() -> None:
    for folder in list(WORKDIRS):
        bounds.remove_tree(folder)
        WORKDIRS.discard(folder)


class StudentError(Exception):
    """A call into student code failed. kind: not_implemented, exception, bad_return,
    nonfinite (the answer was wrong or unusable) or one of ERRORS (the process running it
    died or was killed); str(self) is the one line a student needs."""

    def __init__(self, kind: str, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.kind, self.where = kind, where

    @property
    def is_error(self) -> bool:
        return self.kind in ERRORS

    def __str__(self) -> str:
        text = self.args[0]
        return f"{text} (at {self.where})" if self.where else text


class Leftover(Exception):
    """A reply to an earlier request of this child's arrived during a later one."""


class Timeout(Exception):
    pass


class OutputTap:
    """Drains the child's stdout and stderr on a thread, so a flood never blocks it and never
    fills a disk: keeps the first `limit` bytes and the last few hundred, counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit, self.head, self.tail, self.total = limit, bytearray(), b"", 0
        self.lock = threading.Lock()

    def follow(self, fd: int) -> threading.Thread:
        thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        thread.start()
        return thread

    def _drain(self, fd):
        try:
            while chunk := os.read(fd, 1 << 16):
                with self.lock:
                    self.total += len(chunk)
                    if len(self.head) < self.limit:
                        self.head += chunk[: self.limit - len(self.head)]
                    self.tail = (self.tail + chunk)[-400:]
        finally:
            os.close(fd)

    @property
    def cut(self) -> bool:
        return self.total > self.limit

    def last_line(self) -> str:
        with self.lock:
            lines = self.tail.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else ""


def describe_size(n: int) -> str:
    return f"{n / (1 << 20):.1f} MiB" if n >= 1 << 20 else f"{n / 1024:.0f} KiB" if n >= 1024 else f"{n} bytes"


@overload
def coerce(value: object, returns: Literal["dict"], what: str, finite: bool = True) -> dict[str, np.ndarray]: ...
@overload
def coerce(value: object, returns: str, what: str, finite: bool = True) -> Result: ...
def coerce(value: object, returns: str, what: str, finite: bool = True) -> Result:
    """A reply value as the parent will use it: float64 ndarrays (never a subclass or an
    object), in the structure the blank promises, all finite (unless finite=False). Raises
    StudentError."""

    def array(x, name):
        if isinstance(x, bool) or not isinstance(x, (np.ndarray, int, float)):
            raise StudentError("bad_return", f"{name} is a {type(x).__name__}, not an array of numbers")
        try:
            out = np.array(x, dtype=np.float64)  # a fresh base-class ndarray
        except (OverflowError, ValueError):  # an integer of 400 digits, say
            raise StudentError("bad_return", f"{name} is not a float64 number") from None
        if finite and not np.all(np.isfinite(out)):
            bad = np.argwhere(~np.isfinite(out))[0] if out.ndim else ()
            kind = "NaN" if np.isnan(out[tuple(bad)]) else "inf"
            at = f" at {list(map(int, bad))}" if out.ndim else ""
            raise StudentError("nonfinite", f"{name} contains {kind}{at}: every entry must be a finite number")
        return out

    if returns == "array":
        return array(value, f"{what} returned a value that")
    if returns == "scalar":
        out = array(value, f"{what} returned a value that")
        if out.size != 1:
            raise StudentError("bad_return", f"{what} returned an array of shape {out.shape}; expected a single number")
        return out.reshape(())
    if returns == "pair":
        if not isinstance(value, list) or len(value) != 2:
            raise StudentError("bad_return", f"{what} returned {type(value).__name__}; expected a pair (dW, db)")
        return [array(v, f"{what}'s {k}") for k, v in zip(("dW", "db"), value, strict=True)]
    if returns == "dict":
        if not isinstance(value, dict):
            raise StudentError("bad_return", f"{what} returned {type(value).__name__}; expected a dict of arrays")
        return {str(k): array(v, f"{what}'s [{k!r}]") for k, v in value.items()}
    raise ValueError(returns)


def roomy(fd: int, size: int = 1 << 20) -> None:
    """Make a pipe hold 1 MiB where the system allows (Linux: up to /proc/sys/fs/pipe-max-size,
    1 MiB by default), not 64 KiB: the pipe training's child replies on then holds a whole
    epoch's weights (0.8 MB for 784-128-10). With 64 KiB, the child waited at each epoch's end
    until the grader's reader thread, sharing the GIL with the checks, had taken the message in
    slices (training took 1.5-1.9 s in `grade check` against 1.4 s alone); each slice waits for
    the GIL when another thread of the grader's holds it. A bigger pipe only lets the child
    write sooner; what arrives is read and bounded as before. Training's alone: an ordinary
    user's pipes may hold 64 MiB in all (fs.pipe-user-pages-soft), past which every new pipe of
    theirs gets 8 KiB (red team: 32 sandboxes at 2 MiB each)."""
    import fcntl

    with contextlib.suppress(OSError, AttributeError):  # not Linux, or a lower limit: the default it is
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)


def isolated(mode: str) -> bool:
    """Will a Sandbox with this isolation mode run its child in bubblewrap?"""
    return mode != "off" and isolation.available()[0] is not None


class Arena:
    """Shared memory for a call's arguments: the child's blank works on these very bytes, and the
    grader reads them back itself after the call (never the child's account of them).

    The grader never maps it: it writes and reads with pwrite and pread, which a child that
    truncates the file cannot turn into a fault (a mapping read past the end of a file is a
    SIGBUS that killed the grader: red team). Where the kernel can, the size is also sealed."""

    def __init__(self, size: int = ARENA) -> None:
        import fcntl

        if hasattr(os, "memfd_create"):
            self.fd = os.memfd_create("grade-arguments", os.MFD_ALLOW_SEALING)  # passed to the child on purpose
        else:  # no memfd (macOS): an unlinked temporary file does the same
            with tempfile.TemporaryFile() as handle:
                self.fd = os.dup(handle.fileno())
        os.ftruncate(self.fd, size)
        if hasattr(fcntl, "F_ADD_SEALS"):
            fcntl.fcntl(self.fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL)
        self.size = size

    def place(self, args: Sequence[Any]) -> list[Any]:
        """args with every array (also inside a dict) copied into the arena, as Shared references."""
        offset = 0

        def put(array):
            nonlocal offset
            array = np.ascontiguousarray(array)
            if offset + array.nbytes > self.size:
                raise ValueError(f"the watched arguments need more than {self.size} bytes of shared memory")
            os.pwrite(self.fd, array.tobytes(), offset)
            shared = Shared(offset, array)
            offset += -(-array.nbytes // 64) * 64  # 64-byte aligned, like numpy's own buffers
            return shared

        return [
            put(a) if isinstance(a, np.ndarray) else {k: put(v) for k, v in a.items()} if isinstance(a, dict) else a
            for a in args
        ]

    def read(self, placed: Sequence[Any], fn: str) -> list[Any]:
        """The arrays at these Shared references as they are now: copies, read by the grader."""

        def get(ref):
            dtype = np.dtype(ref.dtype)
            nbytes = math.prod(ref.shape) * dtype.itemsize
            data = os.pread(self.fd, nbytes, ref.offset) if nbytes else b""
            if len(data) != nbytes:
                raise StudentError("protocol", f"the process running {fn} destroyed the memory its arguments were in")
            return np.frombuffer(data, dtype).reshape(ref.shape).astype(np.float64)

        return [
            get(a) if isinstance(a, Shared) else {k: get(v) for k, v in a.items()} if isinstance(a, dict) else a
            for a in placed
        ]

    def close(self) -> None:
        os.close(self.fd)


class Replay:
    """The answers the reference's other blanks gave on the way to one case's answer, recorded by
    `grade generate`: while a blank is graded on that case, a call it makes to another blank with
    (within tol) the same inputs gets the reference's answer, so that the blank is graded on its
    own and a helper's mistake costs only the helper's checks. The table stays here, in the
    grader: the child asks (worker.replayer), and learns an answer only for inputs it already
    computed itself. asked: (blank, answered?) for each ask of the last call, for messages."""

    MAX_ASKS = 1000  # per call; the reference's blanks make at most a dozen

    def __init__(self, calls: Sequence[Sequence[Any]], tol: float) -> None:
        self.calls, self.tol = calls, tol
        self.asked: list[tuple[str, bool]] = []

    def answer(self, ask: dict[str, Any]) -> Any:
        """The recorded answer to an ask, or None. Raises ProtocolError for anything no honest
        stand-in sends (the child is then replaced, as for any garbled message)."""
        name, args = ask.get("ask"), ask.get("args")
        if not isinstance(name, str) or not isinstance(args, list):
            raise ProtocolError("an ask for something that is not a blank")
        if len(self.asked) >= self.MAX_ASKS:
            raise ProtocolError(f"more than {self.MAX_ASKS} asks in one call")
        try:
            return self._answer(name, args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ProtocolError(f"an ask the grader cannot compare ({type(exc).__name__})") from None

    def _answer(self, name, args):
        for fn, recorded, result in self.calls:
            if (
                fn == name
                and isinstance(args, list)
                and len(args) == len(recorded)
                and all(self.same(a, r) for a, r in zip(args, recorded, strict=True))
            ):
                self.asked.append((name, True))
                return result
        self.asked.append((name, False))
        return None

    def same(self, got: object, recorded: Any) -> bool:
        if isinstance(recorded, dict):
            return (
                isinstance(got, dict)
                and set(got) == set(recorded)
                and all(self.same(got[k], v) for k, v in recorded.items())
            )
        if not isinstance(got, (np.ndarray, int, float)) or isinstance(got, bool):
            return False
        try:
            got = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            return False
        recorded = np.asarray(recorded, dtype=np.float64)
        if got.shape != recorded.shape:
            return False
        with np.errstate(all="ignore"):  # the value checks' own measure (gradcheck.assert_close)
            return bool(np.all(np.isfinite(got))) and bool(
                (relative_error(got, recorded, VALUE_FLOOR) <= self.tol).all()
            )

    def missed(self) -> list[str]:
        """The blanks the reference called on this case that were asked about with inputs it never
        passed them (so the student's own blank answered)."""
        called = {fn for fn, _, _ in self.calls}
        return sorted({name for name, hit in self.asked if not hit and name in called})


class Sandbox:
    def __init__(
        self,
        folder: str | os.PathLike[str],
        limits: Limits | None = None,
        isolation_mode: str = "auto",
        bound: bounds.Bound | None = None,
        *,
        blanks: Mapping[str, Blank],
        provided: Mapping[str, str] | None = None,
        nice: int = 0,
    ) -> None:
        """bound: the submission's bounds.Bound, shared by all its sandboxes (None for trusted code
        such as the reference). blanks: the assignment's (Course.blanks), the only functions the
        child may be asked to call. provided: the functions the assignment's own files give that
        training uses (name -> module; Course.provided). nice: how much the child lowers its own
        priority (os.nice) before it imports anything: the checks' child yields the CPU to the
        training child, whose time is the verdict's."""
        self.nice = nice
        self.folder = Path(folder).resolve()
        self.blanks = dict(blanks)
        self.provided = dict(provided or {})
        self.bound = bound
        self.arena = Arena()  # one for the sandbox's life: every child it starts maps the same memory
        self.limits = limits or Limits()
        self.deadline: float | None = None  # set per check: a wall-time budget shared by all its calls
        self.proc: subprocess.Popen | None = None
        self.tap = OutputTap(self.limits.output_kb * 1024)
        self.events: list[str] = []  # things a check's report should say (output cut, ...), drained by the plugin
        self.hung: set[str] = set()  # blanks that ran out of time: not called again (see not_again)
        self.sent: set[str] = set()  # the ids of this child's earlier requests (see request)
        self.last_warnings: list[str] = []
        self.last_dicts: list[str] = []  # what the last call did to its dict arguments, as the child says
        self.bwrap: str | None  # the bwrap that isolates the child, or None and why not:
        self.isolation_problem: str | None
        if isolation_mode == "off":
            self.bwrap, self.isolation_problem = None, "turned off in course.yaml"
        else:
            self.bwrap, self.isolation_problem = isolation.available()
        self.skipped_limits: dict[str, str] = {}

    # -- the child's life -------------------------------------------------------------
    def uid(self) -> int | None:
        """The uid the child runs as: the submission's own when the grader is root (the worker
        drops to it), else None (the grader's). A Sandbox without a bound is for trusted code
        (the reference, `grade generate`): it keeps the grader's user."""
        return self.bound.uid if self.bound is not None else None

    def start(self) -> None:
        self.sent = set()
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        uid = self.uid()
        if self.bwrap:
            self.workdir, prefix = None, isolation.command(self.bwrap, self.folder, self.limits.disk_mb << 20)
            cwd = "/"
        else:
            self.workdir = cwd = tempfile.mkdtemp(prefix="grade-child-")
            WORKDIRS.add(self.workdir)
            if uid is not None:
                os.chown(self.workdir, uid, uid)
            prefix = []
        env = dict(ONE_THREAD)
        env.update(
            PATH="/usr/bin:/bin",
            LANG="C.UTF-8",
            MPLBACKEND="Agg",
            HOME=self.workdir or "/tmp",
            TMPDIR=self.workdir or "/tmp",
        )
        setup = {
            "limits": self.limits.to_json(),
            "uid": uid,
            "keep_reading": not self.bwrap,
            "arena": [self.arena.fd, self.arena.size],
            "process_problem": process_limit_problem(bool(self.bwrap), uid),
            "blanks": to_json(self.blanks),
            "provided": self.provided,
            "nice": self.nice,
        }
        command = [
            *prefix,
            sys.executable,
            "-I",
            "-u",
            "-c",
            BOOT,
            str(req_r),
            str(resp_w),
            str(self.folder),
            GRADER_ROOT,
            json.dumps(setup),
        ]
        self.proc = subprocess.Popen(
            self.bound.command(command) if self.bound else command,
            pass_fds=(req_r, resp_w, self.arena.fd),
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
        LIVE.add(self.proc.pid)
        self.oom_kills = self.bound.oom_kills() if self.bound else 0  # the kernel's kills before this child
        for fd in (req_r, resp_w, out_w):
            os.close(fd)
        os.set_blocking(req_w, False)  # so that a child that stops reading cannot block our writes
        self.to_child, self.from_child = req_w, resp_r
        self.drain = self.tap.follow(out_r)
        # Wait for the worker's "ready" (interpreter and numpy loaded, limits set) so that
        # the first call's timeout measures the student's code, not our start-up.
        deadline = time.monotonic() + STARTUP_SECONDS
        try:
            ready = read_message(self.from_child, lambda fd: self._wait(fd, deadline), MAX_REPLY)
        except (Timeout, ProtocolError):
            ready = None
        if not (isinstance(ready, dict) and ready.get("ready") is True):
            self._kill()
            described = self.exit_description()
            self.stop()
            raise StudentError("crash", f"the grader's worker process did not start: it {described}")
        skipped = ready.get("skipped", {})
        self.skipped_limits = {str(k): str(v) for k, v in skipped.items()} if isinstance(skipped, dict) else {}

    def _kill(self):
        proc = self.proc
        assert proc is not None, "_kill is for a started child"
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group; bwrap's PID namespace takes the rest
        proc.wait()
        LIVE.discard(proc.pid)

    @staticmethod
    def _wait(fd, deadline, writing=False):
        left = deadline - time.monotonic()
        ready = (
            select.select([], [fd], [], max(left, 0))[1] if writing else select.select([fd], [], [], max(left, 0))[0]
        )
        if left <= 0 or not ready:
            raise Timeout

    def stop(self) -> None:
        if self.proc is None:
            return
        self._kill()
        # The worker inside bubblewrap dies a moment after bwrap does (its parent-death signal).
        # Until then it must not find its pipes closed: a blocked write would fail, and the
        # traceback it printed about that counted as the student's output, in some runs and not
        # in others (the flaky write_deadlock cheat test). Its output ends when it is gone.
        self.drain.join(timeout=2)
        for fd in (self.to_child, self.from_child):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.workdir:
            bounds.remove_tree(self.workdir)  # however deep the child made it
            WORKDIRS.discard(self.workdir)
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self.arena is not None:
            self.arena.close()
            self.arena = None  # type: ignore[assignment]  # closed for good: a later use fails loudly

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exit_description(self) -> str:
        """How the child ended; call only once it has (or after _kill)."""
        assert self.proc is not None, "exit_description is for a started child"
        code = self.proc.wait()
        self.drain.join(timeout=1)
        if self.bwrap and code > 128:  # bwrap reports a child killed by signal N as 128 + N
            code = -(code - 128)
        last = self.tap.last_line()
        last = f"; its last output: {last[:200]!r}" if last else ""
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            if name == "SIGXCPU":
                return f"used up its CPU time limit of {self.limits.cpu_seconds} s{last}"
            if name == "SIGKILL" and self.bound is not None and self.bound.oom_kills() > self.oom_kills:
                return (
                    f"was killed: the submission's processes together used more than its memory limit of "
                    f"{self.limits.memory_mb} MiB{last}"
                )
            if name == "SIGKILL":
                return (
                    f"was killed (SIGKILL: its CPU time limit of {self.limits.cpu_seconds} s, or the machine "
                    f"ran out of memory){last}"
                )
            return f"was killed by {name}{last}"
        return f"ended the process with exit code {code} (os._exit or a crash){last}"

    # -- one request ----------------------------------------------------------------------
    def request(
        self,
        message: dict[str, Any],
        what: str,
        timeout: float,
        on_progress: Callable[[dict[str, Any]], object] | None = None,
        max_reply: int = MAX_REPLY,
        replay: Replay | None = None,
        silence: float | None = None,
    ) -> dict[str, Any]:
        """Send message, and return the reply to it (on_progress gets the frames before it).
        silence: the longest the child may say nothing before it is killed (frames count:
        training's signs of life)."""
        if self.proc is not None and select.select([self.from_child], [], [], 0)[0]:
            self._replace_talkative()
        try:
            return self._exchange(message, what, timeout, on_progress, max_reply, replay, silence)
        except Leftover:
            # The last call's code wrote into our pipe, but its words came in only after this
            # request went out (a forged reply, then the real one: 1 run in 8 of the cheat
            # forge_overflowing_reply blamed the next blank). As above, and this call again.
            self._replace_talkative()
            return self._exchange(message, what, timeout, on_progress, max_reply, replay, silence)

    def _replace_talkative(self) -> None:
        """Data nobody asked for: the last call's code wrote into our pipe. A fresh child, so
        that this call is not answered (or blamed) by what the last one left behind."""
        self.events.append("the process running student code sent replies nobody asked for; it was replaced")
        self.stop()

    def _exchange(
        self,
        message: dict[str, Any],
        what: str,
        timeout: float,
        on_progress: Callable[[dict[str, Any]], object] | None,
        max_reply: int,
        replay: Replay | None,
        silence: float | None = None,
    ) -> dict[str, Any]:
        if self.proc is None:
            self.start()
        proc = self.proc
        assert proc is not None, "start() starts the child"  # for mypy: start() sets self.proc
        message = {**message, "id": secrets.token_hex(8)}  # a reply must name the request it answers
        check_budget = False
        if self.deadline is not None and self.deadline - time.monotonic() < timeout:
            check_budget = True
            timeout = max(0.0, self.deadline - time.monotonic())
        # a call's limit is the child's watchdog's to enforce first; ours follows GRACE later
        began = time.monotonic()
        deadline = began + timeout + (GRACE if message["op"] in ("call", "map") and not check_budget else 0)
        printed = self.tap.total
        heard = time.monotonic()  # when bytes of the child's last came in
        place: tuple[int, int] | None = None  # and the epoch and batch it last said it was at

        def waiting(fd):
            # Silence is time with nothing in the pipe: never the grader's own time between two
            # reads (scoring an epoch; a 0.8 MB frame read in slices; a loaded machine, red team)
            nonlocal heard
            if silence is None:
                return self._wait(fd, deadline)
            if time.monotonic() < deadline and select.select([fd], [], [], 0)[0]:
                heard = time.monotonic()
                return None
            return self._wait(fd, min(deadline, heard + silence))

        try:
            write_message(self.to_child, message, lambda fd: self._wait(fd, deadline, writing=True))
            heard = time.monotonic()
            while True:
                reply = read_message(self.from_child, waiting, max_reply)
                if reply is None:
                    raise ConnectionError
                if isinstance(reply, dict) and reply.get("id") in self.sent:
                    raise Leftover  # an earlier call's second answer, late: not this call's doing
                if not isinstance(reply, dict) or reply.get("id") != message["id"]:
                    raise ProtocolError("a reply to a request it was not sent")
                if "progress" in reply:
                    epoch, batch = reply.get("epoch"), reply.get("batch")
                    if type(epoch) is int and type(batch) is int and 0 < epoch < 10**6 and 0 < batch < 10**9:
                        place = (epoch, batch)  # the child's account, for the message only
                    if on_progress:
                        on_progress(reply)
                    heard = time.monotonic()
                    continue
                if "ask" in reply and replay is not None:  # the blank called another: see Replay
                    if reply.get("ask") not in self.blanks:
                        raise ProtocolError("an ask for something that is not a blank")
                    write_message(
                        self.to_child,
                        {"id": message["id"], "answer": replay.answer(reply)},
                        lambda fd: self._wait(fd, deadline, writing=True),
                    )
                    continue
                break
        except Timeout:
            self.stop()
            if silence is not None and time.monotonic() < deadline:  # not the whole limit: it fell silent
                said = (
                    f" (its last word: epoch {place[0]}, batch {place[1]})"
                    if place
                    else " before its first batch (importing its files, or making the images floats)"
                )
                raise StudentError(
                    "timeout",
                    f"{what} stopped answering{said}: nothing came from it for {silence:g} s, where each batch "
                    f"ends within {self.limits.call_seconds:g} s or its watchdog stops it and says so; code that "
                    "never lets Python run (a loop in C) stops both. It was killed",
                ) from None
            if not check_budget:
                self.hung.add(what)
            if check_budget:
                raise StudentError(
                    "timeout",
                    f"{what} was stopped: this check's calls took more than {self.limits.check_seconds:g} s in total",
                ) from None
            raise StudentError(
                "timeout", f"{what} did not finish within {timeout:g} s and was killed (an endless loop?)"
            ) from None
        except (ConnectionError, BrokenPipeError, ProtocolError) as exc:
            try:  # a child that exited closes the pipe a moment before it can be reaped
                proc.wait(timeout=0.5)
                alive = False
            except subprocess.TimeoutExpired:
                alive = True
            if alive:  # alive but talking nonsense or hanging up: end it
                self._kill()
                described = "closed or garbled its connection to the grader" + (f": {exc}" if str(exc) else "")
            else:
                described = self.exit_description()
            self.stop()
            raise StudentError("crash", f"during {what}, your code {described}") from None
        finally:
            self._note_output(what, printed)
            self.sent.add(message["id"])
        if not isinstance(reply, dict) or not isinstance(reply.get("ok"), bool):
            self.stop()
            raise StudentError("protocol", f"the process running {what} sent a malformed reply")
        if not reply["ok"]:
            kind = reply.get("kind")
            if kind == "timeout":  # the child's watchdog (child/watchdog.py): it has exited
                self.stop()
                if time.monotonic() - began < 0.9 * self.limits.call_seconds:  # no watchdog says that so soon
                    raise StudentError("protocol", f"the process running {what} claimed a timeout it did not have")
                # What the grader timed is `what`: the blank the child says it was in is the
                # child's account, for the message only (a blame the child could shift, red team)
                self.hung.add(what)
                return self._fail(kind, reply, what)
            if kind == "hung":  # it called a blank that ran out of time earlier
                return self._fail("timeout", reply, what)
            known = isinstance(kind, str) and kind in {"not_implemented", "exception", "bad_return", "exit", "memory"}
            return self._fail(kind if known else "exception", reply, what)
        return reply

    def _fail(self, kind, reply, what):
        message, where = reply.get("message"), reply.get("where")
        message = message if isinstance(message, str) else f"{what} failed"
        if kind == "memory":
            message = f"memory limit of {self.limits.memory_mb} MiB exceeded in {what} ({message})"
        raise StudentError(kind, message, where if isinstance(where, str) else None)

    def _note_output(self, what, before):
        if self.tap.cut and before <= self.tap.limit:
            self.events.append(
                f"{what} printed more than the {describe_size(self.tap.limit)} of output allowed; "
                "the rest was discarded"
            )

    def take_events(self) -> list[str]:
        events, self.events = self.events, []
        return events

    # -- the narrow interface ---------------------------------------------------------------
    def not_again(self, fn: str) -> None:
        """A blank that ran out of time once is not called again: one endless loop then costs
        one call's time limit, not one per check (the other blanks are unaffected)."""
        if fn in self.hung:
            raise StudentError(
                "timeout",
                f"{fn} was not called again: an earlier call ran out of time "
                f"(over {self.limits.call_seconds:g} s; an endless loop?)",
            )

    def call(self, fn: str, *args: Any, watch: bool = False, replay: Replay | None = None, record: bool = False) -> Any:
        """Call blank fn on plain arguments; return its result as float64 arrays.
        With watch=True the arrays go in shared memory, and the grader reads them back after the
        call: returns (result, the arguments as the call left them). (Any: the result's structure
        is the blank's `returns`, see Result, and watch and record make it a pair.)
        replay: a Replay (the reference's answers to the other blanks fn calls on this case);
        record=True (the reference only): returns (result, the calls fn made to other blanks)."""
        assert fn in self.blanks, fn
        self.not_again(fn)
        sent = self.arena.place(args) if watch else list(args)
        message = {"op": "call", "fn": fn, "args": sent}
        if self.hung:  # where fn calls one of them, it fails at once (child/watchdog.py)
            message["hung"] = sorted(self.hung)
        if replay is not None or record:
            message["mode"] = "replay" if replay is not None else "record"
        if replay is not None:
            replay.asked = []
        reply = self.request(message, fn, self.limits.call_seconds, replay=replay)
        self._warnings(reply)
        changed = reply.get("dicts", [])  # the child's account of what it did to the dicts (see unchanged)
        self.last_dicts = [str(c)[:200] for c in changed][:20] if isinstance(changed, list) else []
        result = self._coerce(reply.get("result"), self.blanks[fn].returns, fn)
        if record:
            calls: Any = reply.get("calls")  # the reference's own reply (record mode only): its calls
            return result, [[name, args, coerce(out, self.blanks[name].returns, name)] for name, args, out in calls]
        return (result, self.arena.read(sent, fn)) if watch else result

    def map(self, fn: str, args_list: Sequence[Sequence[Any]]) -> list[Any]:
        """Call fn once per argument tuple, in one round trip; returns the list of results."""
        self.not_again(fn)
        reply = self.request(
            {"op": "map", "fn": fn, "args_list": [list(a) for a in args_list]}, fn, self.limits.call_seconds
        )
        self._warnings(reply)
        results = reply.get("result")
        if not isinstance(results, list) or len(results) != len(args_list):
            raise StudentError("protocol", f"the process running {fn} sent a malformed reply")
        return [self._coerce(r, self.blanks[fn].returns, fn) for r in results]

    def _coerce(self, value, returns, fn):
        """coerce(), and a NaN or inf that numpy warned about says what numpy said."""
        try:
            return coerce(value, returns, fn)
        except StudentError as exc:
            if exc.kind == "nonfinite" and self.last_warnings:
                raise StudentError("nonfinite", f"{exc} (numpy warned: {'; '.join(self.last_warnings)})") from None
            raise

    def _warnings(self, reply):
        warned = reply.get("warnings", [])
        self.last_warnings = [str(w) for w in warned][:20] if isinstance(warned, list) else []

    def train(
        self,
        sizes: Sequence[int],
        budget: dict[str, int | float],
        data: dict[str, np.ndarray],
        on_epoch: Callable[[int, dict[str, np.ndarray]], object] | None = None,
        network: dict[str, str] | None = None,
        norms_every: int = 0,
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], float]:
        """Train on MNIST in the child with the kit's loop (child/network.py) and the student's
        blanks in the roles network names (config.Network.roles). data holds train_images
        (m, 784) uint8 and train_labels (m,): never the test set. on_epoch(epoch, params) gets
        each epoch's weights (checked: float64 dict, finite). Returns (params, history,
        seconds): history's train_loss and train_accuracy are what the child measured with the
        student's own functions, per epoch; with norms_every, also gradient_norms (steps,
        layers) and steps, every norms_every-th batch's |dW(l)| (the child's account, for plots)."""

        def progress(frame):
            if on_epoch and isinstance(frame.get("progress"), int):
                on_epoch(
                    frame["progress"], coerce(frame.get("params"), "dict", f"training (epoch {frame['progress']})")
                )

        weights = sum(n_out * (n_in + 1) for n_in, n_out in itertools.pairwise(sizes))
        if self.proc is None:
            self.start()  # timed below: the training, not the child's start
        roomy(self.from_child)  # training's alone: a user's pipes share 64 MiB
        try:  # the images in shared memory: one write of the grader's, not 18 MB through the pipe
            payload = self.arena.place([data])[0]
        except ValueError:  # more than the arena holds: through the pipe, then
            payload = data
        start = time.perf_counter()
        reply = self.request(
            {
                "op": "train",
                "sizes": list(sizes),
                "budget": budget,
                "data": payload,
                "network": network or Network().roles(),  # the notes' network
                "norms_every": norms_every,
                "call_seconds": self.limits.call_seconds,  # one call of the student's code (child/watchdog.py)
            },
            "training",
            self.limits.training_seconds,
            progress,
            MAX_REPLY + 8 * weights,
            silence=self.limits.call_seconds + 2 * GRACE,  # a batch's limit, its watchdog's look, a sign of life
        )
        seconds = time.perf_counter() - start  # measured here: the child's own figure is its account
        result: Any = reply.get("result") if isinstance(reply.get("result"), dict) else {}
        params = coerce(result.get("params"), "dict", "training")
        # The child's own measurements, for the plots only: a NaN loss (a float16 softmax, say)
        # is a point the plot leaves out, never a verdict.
        history = coerce(result.get("history"), "dict", "training's history", finite=False)
        expected = {"train_loss", "train_accuracy"} | ({"gradient_norms", "steps"} if norms_every else set())
        if set(history) != expected:
            raise StudentError("protocol", "the process running training sent a malformed history")
        return params, history, seconds

    # -- what the report says once ------------------------------------------------------------
    def describe(self) -> list[str]:
        """Lines for the report: the isolation in force and any limit that is not."""
        lines = []
        if self.bwrap:
            lines.append(
                "isolation: bubblewrap (no network, own PID namespace, private /tmp, read-only view of "
                "the submission and the grader's worker only)"
            )
        else:
            access = (
                "could read the files the grader can (but not write them)"
                if self.uid() is not None
                else "ran with the grader's file access"
            )
            lines.append(f"isolation: none ({self.isolation_problem}); student code {access} and had the network")
        if self.bwrap and not isolation.sizes_tmpfs(self.bwrap):
            lines.append("limit on /tmp's size: not enforced (bubblewrap older than 0.8); only each file's size is")
        for name, why in sorted(self.skipped_limits.items()):
            lines.append(f"limit on {name}: {why}")
        return lines + (self.bound.describe() if self.bound else [])
