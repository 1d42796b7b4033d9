"""The checks derived from the blanks' declarations in course.yaml, for any blank of any
assignment: its values against the reference's (a batch, and one example for blanks of
example columns), its gradient against central differences (of the blank it differentiates,
or of a loss through an output for a delta), its stability at extreme inputs, a loss's mean
over the batch, and (once per part) that the part's blanks leave their inputs unchanged. The
plugin parametrizes these two tests with one case per declared check (plugin.pytest_generate_tests,
from cases() here): a blank an instructor declares gets all of this without a line of grader code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pytest

from grader.config import inputs_of
from grader.grading.checks.common import (
    Trial,
    all_unchanged,
    call,
    central_check,
    equation_of,
    loss_relation,
    not_judged,
    relation,
    value_check,
)
from grader.grading.diagnose import overflow, side_by_side
from grader.grading.gradcheck import VALUE_FLOOR, CheckFailed, relative_error
from grader.grading.inputs import COLUMNS, STRESS
from grader.sandbox.process import StudentError

if TYPE_CHECKING:
    from grader.child.blanks import Blank
    from grader.config import Part

WHAT = {  # a check's title, from its kind
    "values": "{name} matches the reference",
    "gradient": "{name} agrees with central differences of {of}",
    "stable": "{name} is finite and exact {where}",
    "mean": "{name} is the mean over the columns: repeating the batch leaves it unchanged",
}
EDGES = ("one_example",)  # the edge cases a values check takes too, where the vectors hold them
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
        inputs = inputs_of(blank, dict(blanks))
        edges = " (a batch, and one example)" if any(i in COLUMNS for i in inputs) else ""
        where = STRESS[inputs[0]][1] if inputs and inputs[0] in STRESS else ""
        for kind, points in blank.checks:
            what = WHAT[kind].format(name=blank.name, of=differentiated(blank), where=where)
            out.append(
                pytest.param(
                    blank.name,
                    kind,
                    what + (edges if kind == "values" else ""),
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
        for case in (name, *[f"{name}/{edge}" for edge in EDGES if f"{name}/{edge}" in vectors]):
            value_check(student, vectors, case, course.value_rel_error)
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
    number. Judged once the blank's answer is an attempt at the reference's loss: one constant
    times it (a loss summed over the m examples is m times it, and fails here, once) or a
    listed mistake, on batches whose reference losses differ (loss_relation): a constant, or
    a[0, 0] + 0.3, is trivially a mean."""
    args, _ = vectors[name]
    try:
        once = student.call(name, *args)
        twice = student.call(name, *[np.hstack([a, a]) for a in args])
        found = loss_relation(student, vectors, course, name, once)
    except StudentError as exc:
        raise not_judged(f"whether {name} is a mean", exc) from None
    if not found:
        raise CheckFailed(
            f"not graded: {name} is not yet an attempt at the reference's loss ({found.why}): whether it is "
            "a mean counts once it computes the loss from its inputs"
        )
    if abs(twice - once) > course.value_rel_error * max(1e-8, abs(once) + abs(twice)):
        raise CheckFailed(
            f"{name} of the batch repeated twice is {float(twice):.6g}, but of the batch "
            f"once {float(once):.6g}: average over the m columns (divide by m = y.shape[1])"
        )


def stable(student, vectors, course, name, note):
    """The blank on its input's stress case (inputs.STRESS: +-1000 for an element-wise blank,
    columns shifted by +-1000 for logits) is finite, and there agrees with the reference's answer
    the way it does on its value case: equal to it, k times it (0.5 sigma(z): the factor is the
    values check's to count, once), or what the same listed mistake gives there (its formula
    is judged where it is finite itself). An exp that overflows (or a 0 / 0) shows as NaN or
    inf; a form right on the value case only (a table of the public answers, zeros elsewhere)
    or at the extremes only fails at the stress case's extremes or its moderate entries (+-1,
    +-3). Judged once the answer on its value case is one of those (relation(); an answer that
    merely tracks the reference says nothing of what it should give at +-1000)."""
    (z,), expected = vectors[f"{name}/stable"]
    kind = inputs_of(course.blanks[name], course.blanks)[0]
    shown = f"{name}([{', '.join(f'{v:g}' for v in np.ravel(z))}])" if z.size <= 12 else f"{name} of {STRESS[kind][2]}"
    args, answer = vectors[name]
    try:
        attempt = student.call(name, *args)
        got = call(student, name, z)  # the last call: its warnings are the ones shown below
    except StudentError as exc:
        if exc.kind != "nonfinite":
            raise not_judged(f"{name}'s stability", exc) from None
        raise
    found = relation([Trial(attempt, answer, args)], blank=name, tol=course.value_rel_error)
    if found.how not in ("factor", "mistake"):
        why = found.why or (
            "it rises and falls with it, but is neither it, nor one constant times it, nor a typical mistake the "
            "grader knows, so what it should give at the extremes is not known"
        )
        raise CheckFailed(
            f"not graded: {name}'s answer on its value case is not yet an attempt at the reference's ({why}): "
            "stability counts once it is"
        )
    if found.mistake:
        description, formula = found.mistake
        with np.errstate(all="ignore"):
            target = np.asarray(formula(z), float)
        what = "what that mistake gives"
        lead = f"on its value case {name} gives what a typical mistake gives ({description}); at the extremes, "
    else:
        target = found.factor * expected
        exact = abs(found.factor - 1) <= course.value_rel_error
        what = "the reference's answer" if exact else f"{found.factor:.4g} times the reference's answer"
        lead = "" if exact else f"on its value case {name} gives {found.factor:.4g} times the reference's answer; "
    judged = np.isfinite(target)  # a mistake's plain formula may itself overflow there: judged where it does not
    if (
        got.shape != target.shape
        or not np.all(np.isfinite(got))
        or relative_error(got[judged] / found.factor, target[judged] / found.factor, VALUE_FLOOR).max(initial=0)
        > course.value_rel_error
    ):
        text = np.array2string
        found_text = (
            f"gave {text(np.ravel(got), precision=4)}; expected {text(np.ravel(target), precision=4)}"
            if got.size <= 12 or got.shape != target.shape
            else f"differs from {what}: {side_by_side(got, target)}"
        )
        if lead or found.mistake:
            found_text += f" ({what})"
        raise CheckFailed(f"{lead}{shown} {found_text}")
    # The verdict is the answer's. A warning is only the child's account of itself (a child
    # can say anything, or nothing): it is shown, never scored; the overflow advice only for
    # a warning of an overflow.
    if student.last_warnings:
        advice = overflow(name, equation_of(student, name)).removeprefix("diagnosis: ").split("\n")[0]
        overflowed = any("overflow" in w for w in student.last_warnings)
        agrees = "right" if not lead and not found.mistake else f"finite and agrees with {what}"
        note(
            f"the answer is {agrees}, but numpy warned in your code: {'; '.join(student.last_warnings)}"
            + (f". {advice}" if overflowed else "")
        )
