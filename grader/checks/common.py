"""Shared pieces of the checks: value checks against the reference's test vectors, and
the affine maps the grader may do itself (they are provided code, not a blank)."""
import contextlib
import functools

import numpy as np

from grader.diagnose import diagnose
from grader.gradcheck import CheckFailed, assert_gradient, assert_same_structure_close
from grader.vectors import away_from_zero  # noqa: F401  (re-exported)


def value_check(student, vectors, name, tol, m=None, fn=None):
    """Call the blank (fn, else the case's name) on the recorded inputs and compare with the
    reference's outputs."""
    args, expected = vectors[name]
    got = student.call(fn or name, *args)
    shown = ", ".join(_describe(a) for a in args)
    with diagnosed(fn or name, got, expected, args):
        assert_same_structure_close(f"{name}({shown})", got, expected, tol, m)


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
    """Call fn and fail if it modified any array it was given."""
    _, after = student.call(fn, *args, echo=True)
    for position, (before, now) in enumerate(zip(args, after)):
        pairs = before.items() if isinstance(before, dict) else [(None, before)]
        for key, array in pairs:
            name = f"argument {position + 1}" + (f" [{key!r}]" if key else "")
            if key is not None and key not in now:
                raise CheckFailed(f"{fn} modified its input ({name} was removed); leave its inputs as they are")
            seen = now[key] if key is not None else now
            if isinstance(array, np.ndarray) and not np.array_equal(array, seen):
                raise CheckFailed(f"{fn} modified its input ({name}); compute a new array instead")


def central_check(student, vectors, course, fn, what, source):
    """Call the derivative blank fn on the recorded inputs of its gradient case and hold it
    against the reference's central differences (see vectors.gradient_cases). what may hold
    {} for a key when fn returns a dict of gradients."""
    args, numeric = vectors[f"{fn}/central"]
    analytic = student.call(fn, *args)
    if not isinstance(numeric, dict):
        with diagnosed(fn, analytic, numeric, args):
            assert_gradient(what, numeric, analytic, course.gradient_rel_error, source)
        return
    if set(analytic) != set(numeric):
        raise CheckFailed(f"{fn} returned keys {sorted(analytic)}; expected {sorted(numeric)}")
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
