"""Shared pieces of the checks: value checks against the reference's test vectors, and
the affine maps the grader may do itself (they are provided code, not a blank)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np

from grader.grading.diagnose import MISTAKES, diagnose, diagnose_crash, listed_mistake
from grader.grading.gradcheck import (
    VALUE_FLOOR,
    CheckFailed,
    assert_gradient,
    assert_same_structure_close,
    relative_error,
)
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
    attempt: Callable[[object], Relation] | None = None,
) -> str | StudentError | None:
    """Call fn and fail if it modified any array it was given, saying how. Judged by the grader
    from the arguments before and after (it reads them back itself), whatever the answer's
    values. Returns None, or why purity is not graded here: the call failed (a StudentError), or
    its answer is no attempt at the reference's, so leaving the inputs alone is trivial. attempt
    judges the answer (default: relation() with expected, base and fn's listed mistakes; a
    loss is judged on more batches, see loss_relation); it may call fn again."""
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
    changed = getattr(student, "last_dicts", [])  # the dicts themselves: only the child sees them
    if changed:
        raise CheckFailed(
            f"{fn} modified its input ({'; '.join(changed)})\ndiagnosis: a dict it was given was changed in "
            "place (d[k] = ..., d.pop(k), del d[k]); the caller still holds that dict: build a new one "
            "({k: ... for k in params}) and leave the given one as it is"
        )
    if attempt is None and expected is None:
        return None
    try:
        found = attempt(result) if attempt else relation([Trial(result, expected, args, base)], blank=fn)
    except StudentError as exc:
        return not_judged(f"whether {fn} modifies its inputs", exc)
    if not found:
        return (
            f"not graded: {fn}'s answer is not yet an attempt at the reference's ({found.why}), and such a "
            "function leaves its inputs alone trivially: this check counts once it computes its answer from them"
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
    update is mostly the parameters); a blank that returns a number, on several batches
    (loss_relation)."""
    reasons = []
    for fn in fns:
        args, expected = vectors[fn]
        replay = vectors.replay(fn, course.value_rel_error) if fn in replayed else None
        base = args[0] if fn in steps else None

        def attempt(result: object, fn: str = fn, args: Sequence[Any] = args, expected: object = expected) -> Relation:
            if is_number(expected):
                return loss_relation(student, vectors, course, fn, result)
            trial = Trial(result, expected, args, args[0] if fn in steps else None)
            return relation([trial], blank=fn, tol=course.value_rel_error)

        reason = unchanged(student, fn, *args, replay=replay, expected=expected, base=base, attempt=attempt)
        if isinstance(reason, StudentError):  # a failed call ends the check (and stays an error if it was one)
            raise reason
        reasons.append(reason)
    reason = next((r for r in reasons if r), None)
    if reason:
        raise CheckFailed(reason)


# An answer that tracks the reference (relation's third way) correlates with it at least this
# much: where the reference takes both signs and the answer matches its sign at every entry,
# that match is evidence too, and 0.5 is enough; where the reference has one sign (a sigmoid,
# a softmax), any answer of that sign matches it, and the correlation alone must say it.
TRACKS_BOTH_SIGNS, TRACKS_ONE_SIGN = 0.5, 0.9
# A loss is one constant times the reference's when its ratios to the reference's on several
# batches agree to this (relative): room for an epsilon inside a log (a + 1e-3: 0.9%), none for
# another function of the batch (measured on the public vectors: 10% and more).
LOSS_SPREAD = 0.05


class Trial(NamedTuple):
    """One case an answer is judged on: the student's answer, the reference's, the arguments
    both were computed from, and what to subtract from both first (an SGD step's parameters)."""

    got: object
    expected: object
    args: Sequence[Any]
    base: object = None


class Relation(NamedTuple):
    """How a blank's answer relates to the reference's (see relation): how is "factor" (it is
    factor times the reference's), "mistake" (it is what the listed mistake's formula gives,
    mistake[1] a function of the blank's arguments), "tracks" (it rises and falls with it, on
    its side of zero), or "" (no attempt: why says what the numbers show). True when an attempt."""

    how: str
    why: str = ""
    factor: float = 1.0
    mistake: tuple[str, Callable[..., Any]] | None = None

    def __bool__(self) -> bool:
        return bool(self.how)


def is_number(x: object) -> bool:
    """A scalar blank's answer (a number, or an array of one)."""
    return isinstance(x, (int, float, np.number, np.ndarray)) and np.ndim(x) == 0


def related(
    got: object,
    expected: object,
    base: object = None,
    either_sign: bool = False,
    blank: str | None = None,
    args: Sequence[Any] = (),
) -> bool:
    """Is an answer an attempt at the reference's? It is when it is (1) the reference's answer
    times one constant (k > 0; any k != 0 with either_sign), (2) what one of the blank's listed
    typical mistakes gives (diagnose.MISTAKES; blank and args, its arguments, needed), or (3)
    for arrays, correlated with the reference's answer (0.5 where the reference takes both
    signs, 0.9 where it has one) and never of the other sign. So a wrong factor, a missing 1/m,
    sigma(-z) or a softmax over the wrong axis count; a constant, noise, or tanh for sigmoid
    (correlated, but negative where sigma is positive) do not. base is subtracted from both
    first (an SGD step's parameters). A number needs several cases to show (1) (relation,
    loss_relation); on one case it counts within a factor 2, with the reference's sign. The
    rule and why: relation()."""
    return bool(relation([Trial(got, expected, args, base)], either_sign=either_sign, blank=blank))


def relation(
    trials: Sequence[Trial], either_sign: bool = False, blank: str | None = None, tol: float = 1e-6
) -> Relation:
    """Is an answer an attempt at the reference's, and how? It is, in one of three ways:

    factor: it is the reference's answer times one constant k (k > 0, or any k != 0 with
        either_sign), on every case: divided by k it passes the value check (tol). A missing
        1/m, a doubled answer, 0.5 sigma(z), a loss summed over the m examples (on batches of
        one size, see loss_relation) are one mistake each.
    mistake: on every case it is what one of the blank's typical mistakes gives
        (diagnose.MISTAKES, trusted NumPy formulas of wrong answers): sigma(-z), a softmax
        normalised over the wrong axis, sigmoid_prime as s (1 - z), relu as min(0, z), ...
    tracks (arrays only): on every case it correlates with the reference's (TRACKS_*, |r| with
        either_sign) and has the reference's sign wherever both are non-zero: a factor that
        varies entry by entry, such as a delta without its a (1 - a), or an epsilon.

    Anything else is no attempt, and why says what was found: a constant or noise (no
    correlation), tanh for sigmoid (0.99 correlated, but negative where sigma is positive),
    a loss that is not one constant times the reference's on batches of different losses. A
    number on one case alone cannot show proportionality: it counts within a factor 2, with the
    reference's sign (the old rule; loss_relation gives a loss the batches that can). Arrays
    are flattened (dicts in the expected keys' order), base subtracted from both."""
    try:
        return _relation(trials, either_sign, blank, tol)
    except (ValueError, TypeError, KeyError, IndexError, ZeroDivisionError, FloatingPointError) as exc:
        return Relation("", f"it could not be compared with the reference's: {exc}")


def _flat(x: object, keys: list[str] | None) -> np.ndarray:
    if isinstance(x, dict):
        return np.concatenate([np.ravel(np.asarray(x[k], float)) for k in keys or []]) if keys else np.zeros(0)
    if isinstance(x, list):
        return np.concatenate([np.ravel(np.asarray(v, float)) for v in x])
    return np.ravel(np.asarray(x, float))


def _untransposed(got: object, expected: object) -> object:
    """got, with each array that has the transpose of its expected shape (and not that shape)
    transposed back: a transposed answer is an attempt (its value check says what is wrong),
    and it must not also cost the checks gated on being one (a pair's transposed dW once cost
    its part's purity: one bug, one deduction)."""
    if isinstance(got, dict) and isinstance(expected, dict):
        return {k: _untransposed(v, expected[k]) if k in expected else v for k, v in got.items()}
    if isinstance(got, list) and isinstance(expected, list) and len(got) == len(expected):
        return [_untransposed(g, e) for g, e in zip(got, expected, strict=True)]
    if (
        isinstance(got, np.ndarray)
        and isinstance(expected, np.ndarray)
        and got.ndim == expected.ndim == 2
        and got.shape != expected.shape
        and got.shape == expected.T.shape
    ):
        return got.T
    return got


def _relation(trials: Sequence[Trial], either_sign: bool, blank: str | None, tol: float) -> Relation:
    components = _components(trials, blank)
    if components:  # a pair: each array judged as its own blank's (its listed mistakes are its own)
        for i, component in enumerate(components):
            part = [Trial(t.got[i], t.expected[i], t.args) for t in trials]  # type: ignore[index]
            judged = _relation(part, either_sign, f"{blank} {component}", tol)
            if not judged:
                return Relation("", f"its {component}: {judged.why}")
        return Relation("tracks")
    pairs = []
    for t in trials:
        if isinstance(t.expected, dict) and (not isinstance(t.got, dict) or set(t.got) != set(t.expected)):
            have = sorted(t.got) if isinstance(t.got, dict) else type(t.got).__name__
            return Relation("", f"it has the keys {have}; the reference's has {sorted(t.expected)}")
        keys = list(t.expected) if isinstance(t.expected, dict) else None
        g, e = _flat(_untransposed(t.got, t.expected), keys), _flat(t.expected, keys)
        if t.base is not None:
            g, e = g - _flat(t.base, keys), e - _flat(t.base, keys)
        if g.shape != e.shape:
            mistake = _listed(trials, blank)  # a sum over the wrong axis has its own shape
            if mistake:
                return Relation("mistake", mistake=mistake)
            return Relation("", f"it has {g.size} numbers where the reference's has {e.size}")
        if not np.all(np.isfinite(g)):
            return Relation("", "it is not finite")
        pairs.append((g, e))
    mistake = _listed(trials, blank)
    number = all(e.size == 1 for _, e in pairs)
    with np.errstate(all="ignore"):
        k = sum(float(g @ e) for g, e in pairs) / max(sum(float(e @ e) for _, e in pairs), 1e-300)
    sign_ok = k > 0 or (either_sign and k != 0)
    if number:
        ratios = [float(g[0] / e[0]) if e[0] else np.inf for g, e in pairs]
        values = [float(e[0]) for _, e in pairs]
        informative = max(values) - min(values) > LOSS_SPREAD * max(map(abs, values))
        k = ratios[0]
        agree = bool(np.isfinite(k)) and all(abs(r - k) <= LOSS_SPREAD * abs(k) for r in ratios)
        signed = k > 0 or (either_sign and k != 0)
        if agree and signed and (informative or 0.5 <= abs(k) <= 2):
            return Relation("factor", factor=k)
        if mistake:
            return Relation("mistake", mistake=mistake)
        shown = ", ".join(f"{float(g[0]):.6g}" for g, _ in pairs)
        found = f"it is {shown} where the reference's is {', '.join(f'{v:.6g}' for v in values)}"
        if not agree:
            return Relation(
                "",
                f"{found}: not one constant times the reference's (to within {LOSS_SPREAD:.0%}), nor a typical "
                "mistake the grader knows",
            )
        if not signed:
            return Relation("", f"{found}: of the other sign")
        return Relation("", f"{found}: not within a factor 2 (one loss cannot show more)")
    if sign_ok and all(relative_error(g / k, e, VALUE_FLOOR).max(initial=0) <= tol for g, e in pairs):
        return Relation("factor", factor=k)
    if all(not g.any() and not e.any() for g, e in pairs):
        return Relation("factor")
    if mistake:
        return Relation("mistake", mistake=mistake)
    for g, e in pairs:
        why = _untracked(g, e, either_sign)
        if why:
            right = _right_keys(trials, tol)
            if right:  # backward passing z(l-1) for a(l-1): every db is still right
                return Relation("tracks", f"{', '.join(right)} {'is' if len(right) == 1 else 'are'} the reference's")
            return Relation("", why)
    return Relation("tracks")


def _components(trials: Sequence[Trial], blank: str | None) -> list[str]:
    """The names of a pair's arrays where its mistakes are listed one array at a time
    (diagnose.MISTAKES' "layer_gradients dW", "layer_gradients db"), else []."""
    names = [key.split(" ", 1)[1] for key in MISTAKES if blank and key.startswith(f"{blank} ")]
    pair = all(
        isinstance(t.got, (list, tuple)) and isinstance(t.expected, (list, tuple)) and len(t.got) == len(t.expected)
        for t in trials
    )
    return names if trials and pair and len(names) == len(trials[0].expected) else []  # type: ignore[arg-type]


def _right_keys(trials: Sequence[Trial], tol: float) -> list[str]:
    """The keys of a dict answer that are the reference's on every case (within tol)."""
    answers = [(t.got, t.expected) for t in trials]
    if not answers or not all(isinstance(g, dict) and isinstance(e, dict) for g, e in answers):
        return []

    def right(g: Any, e: Any) -> bool:
        g, e = np.asarray(g, float), np.asarray(e, float)
        return (
            g.shape == e.shape
            and bool(np.all(np.isfinite(g)))
            and bool(np.any(e))
            and (relative_error(g, e, VALUE_FLOOR).max(initial=0) <= tol)
        )

    keys = list(cast(dict, answers[0][1]))
    return [k for k in keys if all(right(cast(dict, g).get(k), cast(dict, e)[k]) for g, e in answers)]


def _listed(trials: Sequence[Trial], blank: str | None) -> tuple[str, Callable[..., Any]] | None:
    """The listed mistake (diagnose.MISTAKES) the answer is on every case, or None."""
    if blank is None or not trials:
        return None
    found = [listed_mistake(blank, t.got, t.args) for t in trials]
    first = found[0]
    return first if first and all(f is not None and f[0] == first[0] for f in found) else None


def _untracked(g: np.ndarray, e: np.ndarray, either_sign: bool) -> str:
    """Why g does not track e (see relation), or '' when it does."""
    if np.std(g) == 0:
        return "it is the same number at every entry"
    if np.std(e) == 0:
        return "it varies where the reference's answer is the same number at every entry"
    correlation = float(np.corrcoef(g, e)[0, 1])
    direction = -1.0 if either_sign and correlation < 0 else 1.0
    on = (np.abs(g) > 1e-9 * np.abs(g).max()) & (np.abs(e) > 1e-9 * np.abs(e).max())
    other = int(np.sum(on & (direction * g * e < 0)))
    both = bool(np.any(e > 0) and np.any(e < 0))
    need = TRACKS_BOTH_SIGNS if both else TRACKS_ONE_SIGN
    if direction * correlation < need:
        where = "" if both else ", where the reference's answer has one sign"
        return f"its correlation with the reference's answer is {correlation:.2f}; an attempt needs {need:g}{where}"
    if other:
        return (
            f"it correlates with the reference's answer ({correlation:.2f}), but {other} of its {g.size} numbers "
            f"{'has' if other == 1 else 'have'} the other sign"
        )
    return ""


def loss_relation(student: Sandbox, vectors: Cases, course: Course, fn: str, got: object) -> Relation:
    """relation() for a blank that returns one number, got its answer on its value case. One
    number and one reference value say little (a[0, 0] + 0.3 was within a factor 2 of the
    mean squared error), so when the blank is declared a mean over the batch (a `mean` check:
    the reference's value is known there without the reference) its answer is also taken on
    the same examples in another order (columns of every argument rolled: the reference's loss
    is the same) and on its one-example case repeated to the batch's m columns (the
    reference's: that example's loss); every batch has m columns, so a loss summed over them
    is still one constant (m) times the reference's. Otherwise, its one-example case as
    recorded. Calls fn (StudentError propagates); fn's extra answers are not replayed."""
    args, expected = vectors[fn]
    trials = [Trial(got, expected, args)]
    blank = course.blanks.get(fn)
    means = blank is not None and "mean" in dict(blank.checks)
    one = vectors.get(f"{fn}/one_example")
    columns = {np.shape(a)[1] if np.ndim(a) == 2 else 0 for a in args}
    m = columns.pop() if len(columns) == 1 else 0
    if means and m > 1:
        rolled = [np.roll(a, 1, axis=1) for a in args]
        trials.append(Trial(student.call(fn, *rolled), expected, rolled))
        if one is not None:
            repeated = [np.repeat(a, m, axis=1) for a in one[0]]
            trials.append(Trial(student.call(fn, *repeated), one[1], repeated))
    elif not means and one is not None:
        trials.append(Trial(student.call(fn, *one[0]), one[1], one[0]))
    found = relation(trials, blank=fn, tol=course.value_rel_error)
    if found or len(trials) == 1:
        return found
    batches = (
        f"on its value case, the same examples in another order and its one example repeated to {m} columns"
        if means and len(trials) == 3
        else "on its value case and the same examples in another order"
        if means
        else "on its value case and its one-example case"
    )
    return Relation("", f"{batches} {found.why}")


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
        with diagnosed(fn, analytic, numeric, args, equation_of(student, fn)):
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
