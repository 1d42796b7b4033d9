"""Hidden checks: every blank again, on inputs the students never see (`grade check --hidden`).

They guard against answers hard-coded for the public vectors. What they report is only the
verdict, passed or failed: no input, no expected value, no kind of error, no time, and none
of the student's own text (an exception message, a print, an output-limit event could carry
the hidden inputs out), since these reports reach students. They run in a pytest session of
their own, after every other process running the submission has exited (session.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import pytest

from grader.grading.checks.common import value_check
from grader.grading.checks.test_blanks import vouches
from grader.grading.gradcheck import CheckFailed, assert_close
from grader.sandbox.process import StudentError

if TYPE_CHECKING:
    from grader.child.blanks import Blank

pytestmark = pytest.mark.hidden


def case(blank: Blank, component: str | None = None) -> pytest.ParameterSet:
    """One hidden check: a blank, or one of a pair's two arrays where its public checks take them
    one at a time (layer_gradients' dW and db): a wrong db then withholds the db check's points,
    not dW's as well (see plugin.withhold, which matches these names with the public checks'
    blanks markers)."""
    name = blank.name
    what = vouches(name, component)
    return pytest.param(
        name,
        component,
        what,
        id=f"{name}-{component}" if component else name,
        marks=[
            pytest.mark.part(blank.part),
            pytest.mark.blanks(what),
            pytest.mark.points(0.5 if component else 1),
        ],
    )


def cases(blanks: Mapping[str, Blank]) -> list[pytest.ParameterSet]:
    """Every hidden check of an assignment (the plugin parametrizes test_hidden with these)."""
    return [case(b, c) for b in blanks.values() for c in (b.components or [None])]


def test_hidden(blank, component, what, hidden_student, hidden_vectors, course):
    """{what} on hidden inputs"""
    try:
        for name in [n for n in hidden_vectors if n == f"hidden/{blank}" or n.startswith(f"hidden/{blank}/")]:
            if component is None:
                value_check(hidden_student, hidden_vectors, name, course.value_rel_error, fn=blank)
                continue
            args, expected = hidden_vectors[name]
            got = hidden_student.call(blank, *args, replay=hidden_vectors.replay(name, course.value_rel_error))
            index = course.blanks[blank].components.index(component)
            assert_close(what, got[index], expected[index], course.value_rel_error)
    except (StudentError, CheckFailed):
        # One message and one status for every way to fail: which way it failed (an error
        # kind, a crash against a wrong value) would tell the student something of the inputs.
        raise CheckFailed(
            f"{what} does not give the reference's answers on the hidden inputs (hidden checks "
            "show no details; its public checks show what is compared)"
        ) from None
    except Exception:  # a bug of ours: say so, but not what it said (a shape, a value)
        raise RuntimeError(f"the grader failed on {what}'s hidden check; details withheld") from None
