"""The checks derived from the blanks' declarations in course.yaml, for any blank of any
assignment: its values against the reference's, its derivative against central differences
of the blank it differentiates, its stability at extreme inputs, and (once per part) that the
part's blanks leave their inputs unchanged. The plugin parametrizes these two tests with one
case per declared check (plugin.pytest_generate_tests, from cases() here): a blank an
instructor declares gets all of this without a line of grader code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pytest

from grader.checks.common import all_unchanged, call, central_check, equation_of, not_judged, related, value_check
from grader.diagnose import overflow
from grader.gradcheck import VALUE_FLOOR, CheckFailed, relative_error
from grader.inputs import EXTREMES
from grader.sandbox import StudentError

if TYPE_CHECKING:
    from grader.child.blanks import Blank
    from grader.config import Part

WHAT = {  # a check's title, from its kind
    "values": "{name} matches the reference",
    "gradient": "{name} agrees with central differences of {of}",
    "stable": "{name} is finite and exact at z = +-1000",
    "mean": "{name} is the mean over the columns: repeating the batch leaves it unchanged",
}
PROPERTIES = ("stable", "mean")  # judged whatever the values (see plugin.withhold)


def differentiated(blank: Blank) -> str:
    """What a gradient check holds the blank against: the blank it differentiates, or the loss
    through the output it is the delta of."""
    if blank.delta_of:
        output, loss = blank.delta_of
        return f"{loss}({output}(z), y)"
    return blank.derivative_of


def listed(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def cases(blanks: Mapping[str, Blank]) -> list[pytest.ParameterSet]:
    """test_blank's cases: each declared check of each blank, in declaration order."""
    out = []
    for blank in blanks.values():
        for kind, points in blank.checks:
            out.append(
                pytest.param(
                    blank.name,
                    kind,
                    WHAT[kind].format(name=blank.name, of=differentiated(blank)),
                    id=f"{blank.name}-{kind}",
                    marks=[
                        pytest.mark.part(blank.part),
                        pytest.mark.points(points),
                        pytest.mark.blanks(blank.name),
                        *([pytest.mark.property] if kind in PROPERTIES else []),
                    ],
                )
            )
    return out


def part_cases(parts: Mapping[str, Part], blanks: Mapping[str, Blank]) -> list[pytest.ParameterSet]:
    """test_unchanged's cases: one per part with points for it, over the part's derived blanks."""
    out = []
    for part in parts.values():
        names = [b.name for b in blanks.values() if b.part == part.id and b.checks]
        if part.unchanged and names:
            out.append(
                pytest.param(
                    tuple(names),
                    f"{listed(names)} {'does not modify its' if len(names) == 1 else 'do not modify their'} inputs",
                    id=part.id,
                    marks=[
                        pytest.mark.part(part.id),
                        pytest.mark.points(part.unchanged),
                        pytest.mark.blanks(*names),
                        pytest.mark.property,
                    ],
                )
            )
    return out


def test_blank(name, kind, what, student, vectors, course, note):
    """{what}"""
    if kind == "values":
        value_check(student, vectors, name, course.value_rel_error)
    elif kind == "gradient":
        blank = course.blanks[name]
        called = f"{name}({blank.delta_of[0]}(z), y)" if blank.delta_of else f"{name}(z)"
        central_check(student, vectors, course, name, called, differentiated(blank))
    elif kind == "stable":
        stable(student, vectors, course, name, note)
    elif kind == "mean":
        mean(student, vectors, course, name)
    else:  # config.KINDS and WHAT agree: a kind without a check here is ours to fix
        raise RuntimeError(f"no check for the kind {kind!r}")


def test_unchanged(names, what, student, vectors, course):
    """{what}"""
    # each alone: a blank that calls another on its case has it replayed; a modified input fails
    # whichever blank did it
    replayed = [n for n in names if vectors.calls.get(n)]
    all_unchanged(student, vectors, course, names, replayed=replayed)


def mean(student, vectors, course, name):
    """A loss over a batch is the mean over its columns: the batch twice over gives the same
    number. Judged once the blank computes the loss from its inputs (within a factor 2 of the
    reference's, and not the same number for another batch): a constant is trivially a mean."""
    args, expected = vectors[name]
    try:
        once = student.call(name, *args)
        twice = student.call(name, *[np.hstack([a, a]) for a in args])
        other = student.call(name, np.roll(args[0], 1, axis=1), *args[1:])
    except StudentError as exc:
        raise not_judged(f"whether {name} is a mean", exc) from None
    if once == other or not related(once, expected):
        raise CheckFailed(
            f"not graded: {name} gave {float(once):.6g} where the reference gives "
            f"{float(expected):.6g}{', and the same for another batch' if once == other else ''}: "
            "whether it is a mean counts once it computes the loss from its inputs (within a factor 2)"
        )
    if abs(twice - once) > course.value_rel_error * max(1e-8, abs(once) + abs(twice)):
        raise CheckFailed(
            f"{name} of the batch repeated twice is {float(twice):.6g}, but of the batch "
            f"once {float(once):.6g}: average over the m columns (divide by m = y.shape[1])"
        )


def stable(student, vectors, course, name, note):
    """The blank at EXTREMES equals the reference's answer there, finite: an exp that overflows
    (or a 0 / 0) shows as NaN or inf; a form exact only at the extremes fails at +-1 and +-3."""
    shown = f"{name}([{', '.join(f'{v:g}' for v in EXTREMES.ravel())}])"
    try:
        got = call(student, name, EXTREMES.copy())
    except StudentError as exc:
        if exc.kind != "nonfinite":
            raise not_judged(f"{name}'s stability", exc) from None
        raise
    _, expected = vectors[f"{name}/stable"]
    if (
        got.shape != expected.shape
        or not np.all(np.isfinite(got))
        or relative_error(got, expected, VALUE_FLOOR).max() > course.value_rel_error
    ):
        raise CheckFailed(
            f"{shown} gave {np.array2string(np.ravel(got), precision=4)}; expected "
            f"{np.array2string(np.ravel(expected), precision=4)}"
        )
    # The verdict is the answer's. A warning is only the child's account of itself (a child
    # can say anything, or nothing): it is shown, never scored.
    if student.last_warnings:
        note(
            f"the answer is right, but numpy warned in your code: {'; '.join(student.last_warnings)}. "
            + overflow(name, equation_of(student, name)).removeprefix("diagnosis: ").split("\n")[0]
        )
