"""Shared pieces of the checks: value checks against the reference's test vectors, and
the affine maps the grader may do itself (they are provided code, not a blank)."""
import functools

import numpy as np

from grader.gradcheck import CheckFailed, assert_same_structure_close
from grader.vectors import affine_cache, away_from_zero, one_hot, small_net  # noqa: F401  (re-exported)


def value_check(student, vectors, name, tol, m=None):
    """Call the blank on the recorded inputs and compare with the reference's outputs."""
    args, expected = vectors[name]
    got = student.call(name, *args)
    shown = ", ".join(_describe(a) for a in args)
    assert_same_structure_close(f"{name}({shown})", got, expected, tol, m)


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
            seen = now[key] if key is not None else now
            if isinstance(array, np.ndarray) and not np.array_equal(array, seen):
                name = f"argument {position + 1}" + (f" [{key!r}]" if key else "")
                raise CheckFailed(f"{fn} modified its input ({name}); compute a new array instead")


def forward_losses(student, params_list, X, y):
    """The mean cross-entropy of a ReLU/softmax net for each params in params_list, built
    from affine maps and the student's relu, softmax and cross_entropy (one round trip per
    layer)."""
    L = len(params_list[0]) // 2
    activations = [X] * len(params_list)
    for l in range(1, L + 1):
        zs = [p[f"W{l}"] @ a + p[f"b{l}"] for p, a in zip(params_list, activations)]
        activations = student.map("softmax" if l == L else "relu", [[z] for z in zs])
    return [float(v) for v in student.map("cross_entropy", [[a, y] for a in activations])]


def forward_cache(student, params, X):
    """The cache forward() would build, from affine maps and the student's relu/softmax."""
    return affine_cache(params, X, lambda z: student.call("relu", z), lambda z: student.call("softmax", z))


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
