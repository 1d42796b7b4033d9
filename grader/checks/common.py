"""Shared pieces of the checks: value checks against the reference's test vectors, and
the affine maps the grader may do itself (they are provided code, not a blank)."""
import contextlib
import functools

import numpy as np

from grader.diagnose import diagnose, diagnose_crash
from grader.gradcheck import CheckFailed, assert_gradient, assert_same_structure_close
from grader.sandbox import StudentError
from grader.vectors import away_from_zero  # noqa: F401  (re-exported)


def value_check(student, vectors, name, tol, fn=None):
    """Call the blank (fn, else the case's name) on the recorded inputs and compare with the
    reference's outputs."""
    args, expected = vectors[name]
    got = call(student, fn or name, *args)
    shown = ", ".join(_describe(a) for a in args)
    with diagnosed(fn or name, got, expected, args):
        assert_same_structure_close(f"{name}({shown})", got, expected, tol)


def call(student, fn, *args):
    """student.call, and when the call fails with a shape error or returns NaN or inf, what
    that most likely means (see diagnose.py)."""
    try:
        return student.call(fn, *args)
    except StudentError as exc:
        if exc.kind not in ("exception", "nonfinite"):
            raise
        try:
            diagnosis = diagnose_crash(fn, exc.args[0], args)
        except Exception:  # a diagnosis is a help: it never costs the verdict
            diagnosis = ""
        if not diagnosis:
            raise
        raise StudentError(exc.kind, f"{exc}\n{diagnosis}") from None


@contextlib.contextmanager
def diagnosed(blank, got, expected, args):
    """Add to a failed comparison what the wrong answer most likely is (see diagnose.py)."""
    try:
        yield
    except CheckFailed as exc:
        try:
            diagnosis = diagnose(blank, got, expected, args)
        except Exception:  # a diagnosis is a help: it never costs the verdict
            raise exc from None
        raise CheckFailed(f"{exc}\n{diagnosis}") from None


def _describe(arg):
    if isinstance(arg, np.ndarray):
        return "x".join(map(str, arg.shape)) + " array"
    if isinstance(arg, dict):
        return "{" + ", ".join(arg) + "}"
    return repr(arg)


def unchanged(student, fn, *args):
    """Call fn and fail if it modified any array it was given, saying how."""
    result, after = student.call(fn, *args, watch=True)  # the grader reads the arguments back itself
    for position, (before, now) in enumerate(zip(args, after)):
        pairs = before.items() if isinstance(before, dict) else [(None, before)]
        for key, array in pairs:
            name = f"argument {position + 1}" + (f" [{key!r}]" if key else "")
            if key is not None and key not in now:
                raise CheckFailed(f"{fn} modified its input ({name} was removed); leave its inputs as they are")
            seen = now[key] if key is not None else now
            if isinstance(array, np.ndarray) and not np.array_equal(array, seen):
                answer = result.get(key) if isinstance(result, dict) and key is not None else result
                raise CheckFailed(f"{fn} modified its input ({name})\ndiagnosis: {mutation(array, seen, answer)}")


def mutation(before, after, answer):
    """What an in-place change of an input shows, and the fix."""
    fix = ("An in-place operation (z[z < 0] = 0, z *= ..., W -= ..., out=z) writes into the caller's array, "
           "which the caller still needs (backward reads the cache after you): compute a new array instead")
    if isinstance(answer, np.ndarray) and answer.shape == after.shape and np.array_equal(answer, after):
        return f"the input now holds the answer: it was computed in place. {fix}"
    if after.shape != before.shape:
        return f"the input's shape changed from {before.shape} to {after.shape}. {fix}"
    changed = np.argwhere(before != after)
    i = tuple(changed[0])
    return (f"{len(changed)} of {before.size} entries changed, e.g. [{', '.join(map(str, i))}] from "
            f"{before[i]:.6g} to {after[i]:.6g}. {fix}")


def central_check(student, vectors, course, fn, what, source):
    """Call the derivative blank fn on the recorded inputs of its gradient case and hold it
    against the reference's central differences (see vectors.gradient_cases). what may hold
    {} for a key when fn returns a dict of gradients."""
    args, numeric = vectors[f"{fn}/central"]
    analytic = call(student, fn, *args)
    if not isinstance(numeric, dict):
        with diagnosed(fn, analytic, numeric, args):
            assert_gradient(what, numeric, analytic, course.gradient_rel_error, source)
        return
    if set(analytic) != set(numeric):
        raise CheckFailed(f"{fn} returned keys {sorted(analytic)}; expected {sorted(numeric)}")
    with diagnosed(fn, analytic, numeric, args):
        for name in sorted(numeric, key=lambda k: (k[1:], k[0] == "b")):
            assert_gradient(what.format(name), numeric[name], analytic[name], course.gradient_rel_error, source)


def failing(student, vectors, tol, names):
    """Which of these blanks fail their own value check (for 'fix that first' hints)."""
    bad = []
    for name in names:
        try:
            value_check(student, vectors, name, tol)
        except Exception:
            bad.append(name)
    return bad


def gated(*names):
    """Property and gradient checks vouch for a blank only relative to others (f' against
    central differences of f; purity; stability), and zeros from every blank would agree with
    each other. So a check so marked passes only once the blanks it leans on are right; when
    it fails on its own, its own message is the one shown."""
    def decorate(check):
        @functools.wraps(check)
        def run(student, vectors, course, **fixtures):
            check(student=student, vectors=vectors, course=course, **fixtures)
            bad = failing(student, vectors, course.value_rel_error, names)
            if bad:
                raise CheckFailed(f"this check counts once {', '.join(bad)} "
                                  f"{'matches' if len(bad) == 1 else 'match'} the reference, and "
                                  f"{'it does' if len(bad) == 1 else 'they do'} not yet")
        return run
    return decorate


def with_dependencies(exc, student, vectors, tol, fn, names):
    """Re-raise a failed check of fn, naming the blanks it calls that are wrong themselves."""
    bad = failing(student, vectors, tol, names)
    if bad:
        raise CheckFailed(f"{exc} (note: {fn} calls {', '.join(bad)}, which fail their own checks: fix "
                          f"{'that' if len(bad) == 1 else 'those'} first)") from None
    raise exc
