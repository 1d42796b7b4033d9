"""The child process: imports the submission and runs blank functions on request.

This module runs ONLY in the child (see grader/sandbox/process.py). Whatever the student's code does
here -- patch numpy, print, raise, exit -- the parent sees only the messages below:
plain arrays or an error description.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import inspect
import json
import mmap
import os
import sys
import traceback
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.child import limits as rlimits, network
from grader.child.blanks import Blank, from_json, modules
from grader.child.protocol import read_message, write_message
from grader.child.watchdog import NotAgain, Watchdog

if TYPE_CHECKING:  # annotations only: the child imports nothing it does not run
    import types
    from collections.abc import Callable, Iterator, Sequence

    # make(name, original) -> the stand-in for that blank (see stand_ins)
    Make = Callable[[str, Callable[..., Any]], Callable[..., Any]]
    # ask(name, args) -> the reference's answer to these inputs, or None (see replayer)
    Ask = Callable[[str, list[Any]], Any]


class BadReturn(Exception):
    """The student's function returned something that is not what the blank promises."""


def to_array(value: object, what: str) -> np.ndarray:
    try:
        return np.array(value, dtype=np.float64)
    except Exception:
        raise BadReturn(f"{what} is a {type(value).__name__}, not an array of numbers") from None


def plain(value: object, returns: str, fn: str) -> np.ndarray | list[np.ndarray] | dict[str, np.ndarray]:
    """Turn a return value into the plain arrays the parent expects (float64, no subclasses)."""
    if returns == "array":
        return to_array(value, f"{fn} returned a value that")
    if returns == "scalar":
        arr = to_array(value, f"{fn} returned a value that")
        if arr.size != 1:
            raise BadReturn(f"{fn} returned an array of shape {arr.shape}; expected a single number")
        return arr.reshape(())
    if returns == "pair":
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            raise BadReturn(f"{fn} returned a {type(value).__name__}; expected a pair (dW, db)")
        return [to_array(v, f"{fn}'s {k}") for k, v in zip(("dW", "db"), value, strict=True)]
    if returns == "dict":
        if not isinstance(value, dict):
            raise BadReturn(f"{fn} returned a {type(value).__name__}; expected a dict like {{'W1': ..., 'b1': ...}}")
        return {str(k): to_array(v, f"{fn}'s [{k!r}]") for k, v in value.items()}
    raise ValueError(returns)


class Unimportable(Exception):
    """Raised by a blank whose file does not import; args[0] is that failure's description."""


def syntax_error(exc: SyntaxError) -> str:
    """A SyntaxError as a student can act on it: the file, the line, the line itself, the fix."""
    name = Path(exc.filename or "?").name
    if "utf-8" in str(exc.msg).lower() or "non-utf-8" in str(exc.msg).lower():
        return (
            f"{name} is not valid UTF-8 (line {exc.lineno}): {exc.msg.split(';')[0]}. Save the file as UTF-8 "
            "(in most editors: File > Save with Encoding > UTF-8), or retype the character"
        )
    text = f"SyntaxError in {name} line {exc.lineno}: {exc.msg}"
    line = (exc.text or "").rstrip("\n")
    if line.strip():
        indent = len(line) - len(line.lstrip())
        caret = " " * max(0, (exc.offset or 1) - 1 - indent) + "^"
        text += f"\n    {line.strip()}\n    {caret}"
    return text + (
        "\nPython stops at the first syntax error in a file, so nothing in it could run: fix this line "
        "(or the one above it) and run again"
    )


class Submission:
    def __init__(
        self, folder: str | os.PathLike[str], blanks: dict[str, Blank], provided: dict[str, str] | None = None
    ) -> None:
        """blanks: the assignment's, as the grader sent them (name -> module and returns);
        provided: the functions its files give that training uses (name -> module)."""
        self.folder = str(Path(folder).resolve())
        sys.path.insert(0, self.folder)
        self.blanks = blanks
        self.provided = provided or {}
        self.module_names = sorted({*modules(blanks), *self.provided.values()})
        self.modules: dict[str, types.ModuleType] = {}

    def function(self, name: str) -> Callable[..., Any]:
        module = self.blanks[name].module if name in self.blanks else self.provided[name]
        if module not in self.modules:
            self.modules[module] = self.load(module)
        fn = getattr(self.modules[module], name, None)
        if not callable(fn):
            raise LookupError(f"{module}.py defines no function {name}")
        return fn

    def load(self, module: str) -> types.ModuleType:
        """Import one of the submission's modules. When it fails only because a module it imports
        fails (backprop.py imports activations.py, which has a syntax error), that module is
        stood in for by one whose blanks raise that error when called, and the import is tried
        again: a mistake in one file then costs the blanks of that file, not every file that
        imports it (and a stood-in blank can still be replayed, see stand_ins)."""
        for _ in self.module_names:
            try:
                return importlib.import_module(module)
            except BaseException as exc:
                culprit = self.failing_module(exc)
                if culprit is None or culprit == module or culprit in sys.modules:
                    raise
                sys.modules[culprit] = self.unimportable(culprit, self.describe(exc, f"importing {culprit}.py"))
        return importlib.import_module(module)

    def failing_module(self, exc: BaseException) -> str | None:
        """The submission's module (a blank's) whose own code raised exc during an import, or None."""
        path: Path | None
        if isinstance(exc, SyntaxError) and exc.filename:
            path = Path(exc.filename)
        else:
            frame = self.innermost(exc.__traceback__)
            path = Path(frame.filename) if frame else None
        if (
            path is None
            or str(path.parent) != self.folder
            or path.suffix != ".py"
            or path.stem not in self.module_names
        ):
            return None
        return path.stem

    def unimportable(self, module: str, description: dict[str, Any]) -> types.ModuleType:
        """A stand-in for a module that does not import: each blank of it raises what went wrong."""
        import types

        stand_in = types.ModuleType(module)
        stand_in.__file__ = os.path.join(self.folder, f"{module}.py")

        class Missing:  # any other name imported from it (`from activations import np`) fails on use
            def __getattr__(self, _):
                raise Unimportable(description)

            def __call__(self, *args, **kwargs):
                raise Unimportable(description)

        def missing(name):
            if name.startswith("__"):  # the import system's own questions (__path__, __spec__, ...)
                raise AttributeError(name)
            return Missing()

        stand_in.__getattr__ = missing  # type: ignore[method-assign]  # a module's __getattr__ (PEP 562)
        mine = [name for name, blank in self.blanks.items() if blank.module == module]
        for name in [*mine, *[n for n, m in self.provided.items() if m == module]]:

            def fail(*args, _description=description, **kwargs):
                raise Unimportable(_description)

            fail.__name__ = name
            setattr(stand_in, name, fail)
        return stand_in

    def innermost(self, tb: types.TracebackType | None) -> traceback.FrameSummary | None:
        """The innermost frame of the traceback that is in the student's own files, or None."""
        for frame in reversed(traceback.extract_tb(tb)):
            if frame.filename.startswith(self.folder + os.sep):
                return frame
        return None

    def describe(self, exc: BaseException, fn: str) -> dict[str, Any]:
        """An error message for an exception raised while running fn."""
        frame = self.innermost(exc.__traceback__)
        where = frame and f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}: {(frame.line or '').strip()}"
        if isinstance(exc, NotImplementedError):
            inner = frame.name if frame else fn
            if inner != fn:
                return {"kind": "not_implemented", "message": f"{inner} is not implemented yet (called by {fn})"}
            return {"kind": "not_implemented", "message": f"{fn} is not implemented yet"}
        if isinstance(exc, MemoryError):
            return {"kind": "memory", "message": f"{fn} raised MemoryError", "where": where}
        if isinstance(exc, SystemExit):
            return {"kind": "exit", "message": f"{fn} called sys.exit({exc.code!r})", "where": where}
        if isinstance(exc, Unimportable):
            return dict(exc.args[0])
        if isinstance(exc, NotAgain):
            return {
                "kind": "hung",
                "message": f"{exc.args[0]} was not called again (called by {fn}): an earlier call ran out of "
                "time (an endless loop?)",
                "where": where,
            }
        if isinstance(exc, SyntaxError):
            return {"kind": "exception", "message": syntax_error(exc)}
        text = f"{type(exc).__name__}: {exc}".strip()
        return {"kind": "exception", "message": f"{fn} raised {text}", "where": where}


def answer(value: Any, returns: str) -> np.ndarray | float | tuple[np.ndarray, ...] | dict[str, np.ndarray]:
    """A recorded answer as the blank itself would return it (pair: a tuple; scalar: a float)."""
    if returns == "pair":
        return tuple(np.array(v) for v in value)
    if returns == "scalar":
        return float(value)
    if returns == "dict":
        return {k: np.array(v) for k, v in value.items()}
    return np.array(value)


def plain_args(args: Sequence[object]) -> list[dict[str, np.ndarray] | float | np.ndarray] | None:
    """Arguments as they travel: float64 arrays, dicts of them, numbers. None if they cannot."""
    out: list[dict[str, np.ndarray] | float | np.ndarray] = []
    for a in args:
        if isinstance(a, dict):
            try:
                out.append({str(k): np.array(v, dtype=np.float64) for k, v in a.items()})
            except Exception:
                return None
        elif isinstance(a, (int, float, np.number)) and not isinstance(a, bool):
            out.append(float(a))
        else:
            try:
                out.append(np.array(a, dtype=np.float64))
            except Exception:
                return None
    return out


@contextlib.contextmanager
def stand_ins(submission: Submission, fn: str, make: Make) -> Iterator[None]:
    """While a call of blank fn runs, every OTHER blank, wherever the submission's modules hold it
    by name (`from activations import relu_prime`, `activations.relu_prime`, an alias), is
    make(name, original). Recording the reference and replaying its answers (see run) both work
    this way. Blanks a student captured some other way (a default argument, a closure) are
    their own, which only costs the student the attribution, never a wrong verdict."""
    modules = [
        m
        for m in list(sys.modules.values())
        if (getattr(m, "__file__", None) or "").startswith(submission.folder + os.sep)
    ]
    originals = {}
    for name, blank in submission.blanks.items():
        module = sys.modules.get(blank.module)
        original = getattr(module, name, None) if module in modules else None
        if name != fn and callable(original):
            originals[id(original)] = (name, original)
    patched = []
    for module in modules:
        for key, value in list(vars(module).items()):
            found = originals.get(id(value))
            if found and found[1] is value:
                patched.append((module, key, value))
                setattr(module, key, make(*found))
    try:
        yield
    finally:
        for module, key, value in reversed(patched):
            setattr(module, key, value)


def recorder(calls: list[list[Any]], blanks: dict[str, Blank]) -> Make:
    """make() for stand_ins: call the blank itself and note (name, args, result) -- nested
    calls too, in order. For the reference only (`grade generate`)."""

    def make(name, original):
        def recorded(*args, **kwargs):
            args = bound_args(original, args, kwargs)
            before = plain_args(args)
            result = original(*args)
            calls.append([name, before, plain(result, blanks[name].returns, name)])
            return result

        return recorded

    return make


def replayer(ask: Ask, blanks: dict[str, Blank]) -> Make:
    """make() for stand_ins: ask the grader for the reference's answer to exactly these inputs
    (it holds what the reference answered on the way to this case's answer); where it has none,
    the student's own blank answers. The table stays with the grader: the child learns an
    answer only for inputs it already computed, as a correct caller would."""

    def make(name, original):
        def replayed(*args, **kwargs):
            try:
                args = bound_args(original, args, kwargs)
            except TypeError:
                return original(*args, **kwargs)
            sent = plain_args(args)
            got = ask(name, sent) if sent is not None else None
            return original(*args) if got is None else answer(got, blanks[name].returns)

        return replayed

    return make


def not_again(hung: set[str], make: Make | None) -> Make:
    """make() for stand_ins: a blank that ran out of time earlier raises NotAgain when another
    blank calls it, where make's stand-in would call it (a replayed answer still comes first)."""

    def stand_in(name, original):
        if name in hung:

            def original(*args, _name=name, **kwargs):
                raise NotAgain(_name)

        return make(name, original) if make else original

    return stand_in


def bound_args(function: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...]:
    """Positional arguments, keywords folded in by the function's own signature."""
    if not kwargs:
        return args
    bound = inspect.signature(function).bind(*args, **kwargs)
    bound.apply_defaults()
    return tuple(bound.arguments.values())


def run(
    submission: Submission,
    fn: str,
    args: Sequence[Any],
    returns: str,
    mode: str | None = None,
    ask: Ask | None = None,
    hung: Sequence[str] = (),
) -> dict[str, Any]:
    """Call one blank; returns the reply message (result or error). mode "record" also returns
    the calls it made to other blanks; mode "replay" has them answered through ask(). hung: the
    blanks that ran out of time earlier (watchdog.py): a call of one of them fails at once."""
    try:
        func = submission.function(fn)
    except LookupError as exc:
        return {"ok": False, "kind": "exception", "message": str(exc)}
    except BaseException as exc:
        return {"ok": False, **submission.describe(exc, f"importing {submission.blanks[fn].module}.py")}
    calls: list[list] = []
    # mode "replay" always comes with ask (main): the ignore states that, it changes nothing at run time
    blanks = submission.blanks
    make = recorder(calls, blanks) if mode == "record" else replayer(ask, blanks) if mode == "replay" else None  # type: ignore[arg-type]
    if hung:
        make = not_again(set(hung), make)
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            np.errstate(all="warn", under="ignore"),
        ):  # numpy's defaults: underflow to 0 is harmless
            warnings.simplefilter("always")
            before = [{k: id(v) for k, v in a.items()} if isinstance(a, dict) else None for a in args]
            with stand_ins(submission, fn, make) if make else contextlib.nullcontext():
                value = func(*args)
        result = plain(value, returns, fn)
        changed = rebound(args, before)
    except BadReturn as exc:
        return {"ok": False, "kind": "bad_return", "message": str(exc)}
    except BaseException as exc:
        return {"ok": False, **submission.describe(exc, fn)}
    reply = {"ok": True, "result": result, "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught})}
    if changed:
        reply["dicts"] = changed
    return {**reply, "calls": calls} if mode == "record" else reply


def rebound(args: Sequence[Any], before: Sequence[dict[str, int] | None]) -> list[str]:
    """What a call did to the dicts it was given, as the grader cannot see it (it reads back the
    arrays alone): keys removed or added, and keys that now hold another array (params[k] =
    params[k] - lr * grads[k] writes into the caller's dict as surely as -= into its arrays)."""
    out = []
    for position, (arg, ids) in enumerate(zip(args, before, strict=True)):
        if ids is None or not isinstance(arg, dict):
            continue
        name = f"argument {position + 1}"
        now = {str(k): id(v) for k, v in arg.items()}
        for key in sorted(set(ids) - set(now)):
            out.append(f"{name}'s key {key!r} was removed")
        for key in sorted(set(now) - set(ids))[:5]:
            out.append(f"{name} got a new key {key!r}")
        for key in sorted(k for k in set(ids) & set(now) if ids[k] != now[k]):
            out.append(f"{name} [{key!r}] was replaced by another array")
    return out[:20]


def plot_only(loss_fn: Callable[..., Any]) -> Callable[[np.ndarray, np.ndarray], float]:
    """The student's loss as the training loop uses it: for the loss history only, which only the
    plots read. One that fails or returns anything but a number (a vector per example, say)
    leaves NaN, a gap in the curve; it never ends the training (it costs its own checks)."""

    def loss(a, y):
        try:
            return float(np.asarray(loss_fn(a, y), dtype=np.float64).reshape(()))
        except Exception:
            return float("nan")

    return loss


def roles(submission: Submission, names: dict[str, str]) -> dict[str, Callable[..., Any]]:
    """The network's roles (course.yaml's `network`, as the grader sent it), each the submission's
    function of that name: a blank, or one the assignment provides. A backward that is a blank is
    the notes' backward(params, cache, y); one the assignment provides also takes the hidden
    derivative and the output delta, backward(params, cache, y, f_prime, output_delta), so that
    one provided recursion serves every run of an experiment."""

    def fn(name):  # an array out: a blank may return a list, as its checks accept (red team)
        original = submission.function(name)
        if name in (names["backward"], names["update"]):
            return original  # dicts of arrays
        return lambda *args: np.asarray(original(*args))

    out = {role: fn(names[role]) for role in ("hidden", "output", "update")}
    out["loss"] = plot_only(fn(names["loss"]))
    backward = fn(names["backward"])
    if names["backward"] in submission.blanks:
        out["backward"] = backward
    else:
        f_prime, delta = fn(names["hidden_prime"]), fn(names["output_delta"])
        out["backward"] = lambda params, cache, y: backward(params, cache, y, f_prime, delta)
    return out


def train(submission: Submission, fd: int, request: dict[str, Any], watchdog: Watchdog) -> dict[str, Any]:
    """Train with the kit's loop (child/network.py) and the student's blanks in the roles the
    course configures. The test set is not here: after each epoch the weights go to the
    parent, which scores them itself."""
    for name in dict.fromkeys(request["network"].values()):  # every role's function, each once
        try:
            with watchdog.running(request["id"], f"importing {name}'s file"):  # a loop at its top level
                submission.function(name)
        except BaseException as exc:
            return {"ok": False, **submission.describe(exc, name)}
        watchdog.beat()
    data, budget = request["data"], request["budget"]
    # One pass over the images, row by row, into float32 examples-as-rows; X_train is its
    # transpose, a view (784, m) whose columns are the examples. The same division as
    # (images.T / 255).astype(float32), the same numbers, 12 ms where that took 60-240 ms
    # (it strode across the rows, then copied): bench/benchmark.py's first-epoch time.
    images = data["train_images"]
    rows = np.empty(images.shape, np.float32)
    np.divide(images, np.float32(255), out=rows, dtype=np.float32)
    X_train = rows.T
    played = {role: watchdog.watched(role, fn) for role, fn in roles(submission, request["network"]).items()}

    def on_epoch(epoch, params, history):
        with watchdog.lock:  # never beside the watchdog's own reply
            write_message(
                fd,
                {
                    "id": request["id"],
                    "progress": epoch,
                    "total": budget["epochs"],
                    "params": plain(params, "dict", "training"),
                },
            )

    try:
        params = network.init_params(request["sizes"], budget["seed"])
        batches = -(-X_train.shape[1] // int(budget["batch_size"]))
        with np.errstate(all="ignore"), watchdog.training(request["id"], batches):
            params, history, norms, steps = network.train(
                params,
                X_train,
                data["train_labels"].astype(np.int64),
                budget["epochs"],
                budget["batch_size"],
                budget["learning_rate"],
                played,
                budget["seed"],
                on_epoch=on_epoch,
                norms_every=int(request.get("norms_every", 0)),
                on_batch=watchdog.begin,
            )
            watchdog.begin(budget["epochs"], batches)  # still timed: the weights as the student's code left them
            measured = {k: to_array(history[k], "the history") for k in ("train_loss", "train_accuracy")}
            if request.get("norms_every"):
                measured["gradient_norms"] = to_array(norms, "the gradient norms")
                measured["steps"] = to_array(steps, "the steps")
            result = {"params": plain(params, "dict", "training"), "history": measured}
    except BadReturn as exc:
        return {"ok": False, "kind": "bad_return", "message": str(exc)}
    except BaseException as exc:
        return {"ok": False, **submission.describe(exc, "training")}
    return {"ok": True, "result": result}


def become(uid: int, keep_reading: bool = False) -> str | None:
    """Drop from root to uid for good, before any student code: no supplementary groups, no
    capability, and no way back (a setuid program, a capability raised for a program it runs).
    keep_reading keeps one capability in this process only, CAP_DAC_READ_SEARCH (read any
    file): without bubblewrap's binds the Python installation may sit where other users cannot
    read it (/root/.pyenv here), and the child may read what the grader can anyway there; it
    still cannot write, signal or raise a limit as root could. Returns None, or why the drop
    failed (the child then stays root)."""
    import ctypes
    import struct

    libc = ctypes.CDLL(None, use_errno=True)
    try:
        # While root: keep the permitted set across setuid, and lock out raising any capability
        # for the programs it runs (ambient) or as root (red team: the reading capability reached
        # /bin/head /etc/shadow through the ambient set); then empty the bounding set.
        bits = (
            (1 << 0) | (1 << 1) | (1 << 4) | (1 << 6) | (1 << 7)
        )  # NOROOT(+LOCKED), KEEP_CAPS, NO_CAP_AMBIENT_RAISE(+LOCKED)
        if libc.prctl(28, bits, 0, 0, 0) != 0:  # PR_SET_SECUREBITS
            raise OSError(ctypes.get_errno(), "securebits could not be set")
        for cap in range(64):
            if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP; EINVAL past the kernel's last capability
                break
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
        kept = 1 << 2 if keep_reading else 0  # CAP_DAC_READ_SEARCH
        header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0))  # _LINUX_CAPABILITY_VERSION_3
        data = ctypes.create_string_buffer(struct.pack("6I", kept, kept, 0, 0, 0, 0))
        if libc.capset(header, data) != 0:
            raise OSError(ctypes.get_errno(), "capset failed")
    except OSError as exc:
        return f"could not switch to a uid of its own ({exc})"
    finally:
        libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    return None


# State that outlives every process and that a later child, another uid, can read: a key in a
# uid's keyring (bubblewrap's namespaces do not separate keyrings), System V IPC and POSIX
# message queues (without isolation), and the page cache of the files every child reads, which
# these calls read or reset without timing anything (mincore, cachestat, preadv2's RWF_NOWAIT,
# io_uring, fadvise). Each carried one grading's hidden inputs to the next (red team). Student
# code has no use for any of them.
OUTLIVING = (
    "add_key",
    "request_key",
    "keyctl",
    "mq_open",
    "mq_unlink",
    "mq_timedsend",
    "mq_timedreceive",
    "mq_notify",
    "mq_getsetattr",
    "shmget",
    "shmat",
    "shmdt",
    "shmctl",
    "semget",
    "semop",
    "semtimedop",
    "semctl",
    "msgget",
    "msgsnd",
    "msgrcv",
    "msgctl",
    "ipc",
    "mincore",
    "cachestat",
    "preadv2",
    "pwritev2",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "fadvise64",
    "fadvise64_64",
)


def forbid_outliving_objects() -> str | None:
    """A seccomp filter (with libseccomp, the library bubblewrap's and Docker's filters come
    from) that fails the OUTLIVING calls with EPERM, for this process and all it starts.
    Returns None, or why it is not in force."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS: a filter needs it
    try:
        lib = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        return "not blocked: libseccomp is not installed (Debian, Ubuntu: libseccomp2)"
    lib.seccomp_init.restype, lib.seccomp_init.argtypes = ctypes.c_void_p, [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype, lib.seccomp_syscall_resolve_name.argtypes = (
        ctypes.c_int,
        [ctypes.c_char_p],
    )
    lib.seccomp_rule_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint]
    lib.seccomp_load.argtypes = lib.seccomp_release.argtypes = [ctypes.c_void_p]
    context = lib.seccomp_init(0x7FFF0000)  # SCMP_ACT_ALLOW: everything else as before
    if not context:
        return "not blocked: seccomp_init failed"
    try:
        for name in OUTLIVING:
            number = lib.seccomp_syscall_resolve_name(name.encode())
            if number == -1:  # __NR_SCMP_ERROR: not a call on this architecture
                continue
            if lib.seccomp_rule_add(context, 0x00050000 | errno.EPERM, number, 0) < 0:  # SCMP_ACT_ERRNO(EPERM)
                return f"not blocked: the filter could not take {name}"
        if lib.seccomp_load(context) < 0:
            return "not blocked: the kernel refused the seccomp filter"
    finally:
        lib.seccomp_release(context)
    return None


def main(rfd: int, wfd: int, folder: str, setup_json: str) -> None:
    setup: dict[str, Any] = json.loads(setup_json)  # its own name: mypy gives a name one type
    if setup.get("nice"):  # the checks' child, while training runs beside it: it waits, training goes on
        os.nice(int(setup["nice"]))
    # Before any student code: limits it cannot raise, as a user that is not root.
    skipped = rlimits.apply(rlimits.Limits(**setup["limits"]), setup["process_problem"])
    if setup.get("uid") is not None:
        problem = become(setup["uid"], keep_reading=setup.get("keep_reading", False))
        if problem:
            skipped["processes"] = f"not enforced: student code runs as root: it {problem}"
    problem = forbid_outliving_objects() if sys.platform.startswith("linux") else "not blocked: not Linux"
    if problem:
        skipped["keyrings, IPC and page-cache probes"] = problem
    fd, size = setup["arena"]  # the grader's shared memory: watched calls' arguments live there
    arena = mmap.mmap(fd, size)
    submission = Submission(folder, from_json(setup["blanks"]), setup.get("provided"))
    seconds = float(setup["limits"].get("call_seconds", rlimits.Limits().call_seconds))
    watchdog = Watchdog(
        seconds, submission.folder, {*submission.blanks, *submission.provided}, lambda m: write_message(wfd, m)
    )
    write_message(wfd, {"ready": True, "skipped": skipped})
    while True:
        request = read_message(rfd, arena=arena)
        if request is None:
            return
        reply: dict[str, Any]
        if request["op"] in ("call", "map") and request.get("fn") not in submission.blanks:
            reply = {"ok": False, "kind": "protocol", "message": f"{request.get('fn')!r} is not a blank"}
        elif request["op"] == "call":

            def ask(name, args, rid=request["id"]):
                with watchdog.lock:
                    write_message(wfd, {"id": rid, "ask": name, "args": args})
                got = read_message(rfd)
                return got.get("answer") if isinstance(got, dict) and got.get("id") == rid else None

            returns = submission.blanks[request["fn"]].returns
            hung = request.get("hung", [])
            with watchdog.running(request["id"], request["fn"]):
                reply = run(submission, request["fn"], request["args"], returns, request.get("mode"), ask, hung)
        elif request["op"] == "map":
            results, warned = [], set[str]()
            with watchdog.running(request["id"], request["fn"]):
                for args in request["args_list"]:
                    reply = run(submission, request["fn"], args, submission.blanks[request["fn"]].returns)
                    if not reply["ok"]:
                        break
                    results.append(reply["result"])
                    warned.update(reply["warnings"])
                else:
                    reply = {"ok": True, "result": results, "warnings": sorted(warned)}
        elif request["op"] == "train":
            reply = train(submission, wfd, request, watchdog)
        else:
            reply = {"ok": False, "kind": "protocol", "message": f"unknown op {request['op']!r}"}
        with watchdog.lock:
            write_message(wfd, {**reply, "id": request["id"]})
