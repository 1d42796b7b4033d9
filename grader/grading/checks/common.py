"""Shared pieces of the checks: value checks against the reference's test vectors, and
the affine maps the grader may do itself (they are provided code, not a blank)."""

from __future__ import annotations

import contextlib
from collections.abc import Container, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from grader.grading.diagnose import diagnose, diagnose_crash
from grader.grading.gradcheck import CheckFailed, assert_gradient, assert_same_structure_close
from grader.sandbox.process import StudentError

if TYPE_CHECKING:
    from grader.config import Course
    from grader.grading.vectors import Cases
    from grader.sandbox.process import Replay, Sandbox


def value_check(student: Sandbox, vectors: Cases, name: str, tol: float, fn: str | None = None) -> None:
    """Call the blank (fn, else the case's name) on the recorded inputs and compare with the
    reference's outputs. The other blanks it calls answer as the reference did on the way to
    this answer (sandbox.Replay): the verdict is this blank's alone."""
    args, expected = vectors[name]
    fn = fn or name.split("/")[0]
    replay = vectors.replay(name, tol)
    try:
        got = call(student, fn, *args, replay=replay)
        shown = ", ".join(_describe(a) for a in args)
        with diagnosed(fn, got, expected, args, equation_of(student, fn)):
            assert_same_structure_close(f"{fn}({shown})", got, expected, tol)
    except (CheckFailed, StudentError) as exc:
        raise with_own_helpers(exc, student, vectors, tol, fn, replay) from None


def call(student: Sandbox, fn: str, *args: Any, **options: Any) -> Any:
    """student.call, and when the call fails with a shape error or returns NaN or inf, what
    that most likely means (see diagnose.py)."""
    try:
        return student.call(fn, *args, **options)
    except StudentError as exc:
        if exc.kind not in ("exception", "nonfinite"):
            raise
        try:
            diagnosis = diagnose_crash(fn, exc.args[0], args, equation_of(student, fn))
        except Exception:  # a diagnosis is a help: it never costs the verdict
            diagnosis = ""
        if not diagnosis:
            raise
        raise StudentError(exc.kind, f"{exc}\n{diagnosis}", exc.where) from None


def with_own_helpers(
    exc: CheckFailed | StudentError,
    student: Sandbox,
    vectors: Cases,
    tol: float,
    fn: str,
    replay: Replay | None,
) -> CheckFailed | StudentError:
    """exc, and where fn called another blank with inputs the reference never passed it (so the
    student's own blank answered, not the reference's), a note saying so, and whether that blank
    fails its own value check: each fact verified here, the first by the grader's replay table."""
    missed = replay.missed() if replay else []
    if not missed:
        return exc
    bad = failing(student, vectors, tol, missed)
    note = (
        f"(note: {fn} called {', '.join(missed)} with arguments the reference's {fn} never passes there, "
        f"so your own {', '.join(missed)} answered"
    )
    if bad:
        note += (
            f", and {', '.join(bad)} {'fails its' if len(bad) == 1 else 'fail their'} own checks: fix "
            f"{'that' if len(bad) == 1 else 'those'} first"
        )
    note += f"; check which arrays {fn} passes, against the notes' equation)"
    if isinstance(exc, StudentError):
        return StudentError(exc.kind, f"{exc.args[0]} {note}", exc.where)
    return CheckFailed(f"{exc} {note}")


def equation_of(student: Sandbox, fn: str) -> str | None:
    """The equation course.yaml declares for blank fn, if any (diagnoses end with it)."""
    blank = student.blanks.get(fn)
    return blank.equation if blank is not None and blank.equation else None


@contextlib.contextmanager
def diagnosed(
    blank: str, got: object, expected: object, args: Sequence[Any], equation: str | None = None
) -> Iterator[None]:
    """Add to a failed comparison what the wrong answer most likely is (see diagnose.py)."""
    try:
        yield
    except CheckFailed as exc:
        try:
            diagnosis = diagnose(blank, got, expected, args, equation)
        except Exception:  # a diagnosis is a help: it never costs the verdict
            raise exc from None
        raise CheckFailed(f"{exc}\n{diagnosis}") from None


def _describe(arg):
    if isinstance(arg, np.ndarray):
        return "x".join(map(str, arg.shape)) + " array"
    if isinstance(arg, dict):
        return "{" + ", ".join(arg) + "}"
    return repr(arg)


def unchanged(
    student: Sandbox,
    fn: str,
    *args: Any,
    replay: Replay | None = None,
    expected: object = None,
    base: object = None,
) -> str | StudentError | None:
    """Call fn and fail if it modified any array it was given, saying how. Judged by the grader
    from the arguments before and after (it reads them back itself), whatever the answer's
    values. Returns None, or why purity is not graded here: the call failed (a StudentError), or
    its answer is no attempt at the reference's (expected; see related), so leaving the inputs
    alone is trivial."""
    try:
        result, after = student.call(fn, *args, watch=True, replay=replay)
    except StudentError as exc:
        return not_judged(f"whether {fn} modifies its inputs", exc)
    for position, (before, now) in enumerate(zip(args, after, strict=True)):
        pairs = before.items() if isinstance(before, dict) else [(None, before)]
        for key, array in pairs:
            name = f"argument {position + 1}" + (f" [{key!r}]" if key else "")
            if key is not None and key not in now:
                raise CheckFailed(f"{fn} modified its input ({name} was removed); leave its inputs as they are")
            seen = now[key] if key is not None else now
            if isinstance(array, np.ndarray) and not np.array_equal(array, seen):
                answer = result.get(key) if isinstance(result, dict) and key is not None else result
                raise CheckFailed(f"{fn} modified its input ({name})\ndiagnosis: {mutation(array, seen, answer)}")
    if expected is not None and not related(result, expected, base):
        return (
            f"not graded: {fn}'s answer is not yet an attempt at the reference's (it does not rise and fall "
            "with it), and such a function leaves its inputs alone trivially: this check counts once it "
            "computes its answer from them"
        )
    return None


def all_unchanged(
    student: Sandbox,
    vectors: Cases,
    course: Course,
    fns: Iterable[str],
    replayed: Container[str] = (),
    steps: Container[str] = (),
) -> None:
    """unchanged() for each blank on its value case: a modified input fails the check whichever
    blank did it; a failed call ends it there; otherwise the first reason it is not graded, if
    any. A blank in steps is judged an attempt by its step from its first argument (an SGD
    update is mostly the parameters)."""
    reasons = []
    for fn in fns:
        args, expected = vectors[fn]
        replay = vectors.replay(fn, course.value_rel_error) if fn in replayed else None
        base = args[0] if fn in steps else None
        reason = unchanged(student, fn, *args, replay=replay, expected=expected, base=base)
        if isinstance(reason, StudentError):  # a failed call ends the check (and stays an error if it was one)
            raise reason
        reasons.append(reason)
    reason = next((r for r in reasons if r), None)
    if reason:
        raise CheckFailed(reason)


def related(got: object, expected: object, base: object = None, either_sign: bool = False) -> bool:
    """Is an answer an attempt at the reference's? For arrays (flattened, dicts in the expected
    keys' order, base subtracted from both, e.g. the parameters an SGD step starts from):
    correlation at least 0.5, so a wrong factor or offset counts as an attempt and a constant,
    noise or a sign-flipped map does not (unless either_sign). A number: the same sign, within a
    factor of 2."""

    def flat(x, keys):
        if isinstance(x, dict):
            return np.concatenate([np.ravel(np.asarray(x[k], float)) for k in keys]) if keys else np.zeros(0)
        if isinstance(x, list):
            return np.concatenate([np.ravel(np.asarray(v, float)) for v in x])
        return np.ravel(np.asarray(x, float))

    keys = list(expected) if isinstance(expected, dict) else None
    try:
        if isinstance(expected, dict) and (not isinstance(got, dict) or set(got) != set(expected)):
            return False
        g, e = flat(got, keys), flat(expected, keys)
        if base is not None:
            g, e = g - flat(base, keys), e - flat(base, keys)
    except (ValueError, TypeError, KeyError):
        return False
    if g.shape != e.shape or not np.all(np.isfinite(g)):
        return False
    if g.size == 1:
        return bool(g[0] * e[0] > 0 and 0.5 <= g[0] / e[0] <= 2)
    if np.std(g) == 0 or np.std(e) == 0:
        return bool(np.array_equal(g, e))
    correlation = np.corrcoef(g, e)[0, 1]
    return bool((abs(correlation) if either_sign else correlation) >= 0.5)


def not_judged(what: str, exc: StudentError) -> StudentError:
    """A property check whose call failed: the property could not be judged. Not a pass (a stub
    would earn it), and said as what it is, with the reason, which the blank's own value check
    also shows."""
    return StudentError(exc.kind, f"not graded: {what} cannot be judged while the call fails ({exc})")


def mutation(before: np.ndarray, after: np.ndarray, answer: object) -> str:
    """What an in-place change of an input shows, and the fix."""
    fix = (
        "An in-place operation (z[z < 0] = 0, z *= ..., W -= ..., out=z) writes into the caller's array, "
        "which the caller still needs (backward reads the cache after you): compute a new array instead"
    )
    if isinstance(answer, np.ndarray) and answer.shape == after.shape and np.array_equal(answer, after):
        return f"the input now holds the answer: it was computed in place. {fix}"
    if after.shape != before.shape:
        return f"the input's shape changed from {before.shape} to {after.shape}. {fix}"
    changed = np.argwhere(before != after)
    i = tuple(changed[0])
    return (
        f"{len(changed)} of {before.size} entries changed, e.g. [{', '.join(map(str, i))}] from "
        f"{before[i]:.6g} to {after[i]:.6g}. {fix}"
    )


def central_check(student: Sandbox, vectors: Cases, course: Course, fn: str, what: str, source: str) -> None:
    """Call the derivative blank fn on the recorded inputs of its gradient case and hold it
    against the reference's central differences (see vectors.gradient_cases). what may hold
    {} for a key when fn returns a dict of gradients. Other blanks answer as the reference's did."""
    name = f"{fn}/central"
    args, numeric = vectors[name]
    replay = vectors.replay(name, course.value_rel_error)
    try:
        analytic = call(student, fn, *args, replay=replay)
        if not isinstance(numeric, dict):
            with diagnosed(fn, analytic, numeric, args, equation_of(student, fn)):
                assert_gradient(what, numeric, analytic, course.gradient_rel_error, source)
            return
        if set(analytic) != set(numeric):
            raise CheckFailed(f"{fn} returned keys {sorted(analytic)}; expected {sorted(numeric)}")
        with diagnosed(fn, analytic, numeric, args):
            for key in sorted(numeric, key=lambda k: (k[1:], k[0] == "b")):
                assert_gradient(what.format(key), numeric[key], analytic[key], course.gradient_rel_error, source)
    except (CheckFailed, StudentError) as exc:
        raise with_own_helpers(exc, student, vectors, course.value_rel_error, fn, replay) from None


def failing(student: Sandbox, vectors: Cases, tol: float, names: Iterable[str]) -> list[str]:
    """Which of these blanks fail their own value check (for 'fix that first' hints)."""
    bad = []
    for name in names:
        if name not in vectors:
            continue
        try:
            value_check(student, vectors, name, tol)
        except Exception:
            bad.append(name)
    return bad
