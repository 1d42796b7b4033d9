"""Hidden checks: every blank again, on inputs the students never see (`grade check --hidden`).

They guard against answers hard-coded for the public vectors. What they report is only the
verdict, passed or failed: no input, no expected value, no kind of error, no time, and none
of the student's own text (an exception message, a print, an output-limit event could carry
the hidden inputs out), since these reports reach students. They run in a pytest session of
their own, after every other process running the submission has exited (grading.py).
"""
import pytest

from grader.blanks import BLANKS
from grader.checks.common import value_check
from grader.gradcheck import CheckFailed
from grader.sandbox import StudentError

pytestmark = pytest.mark.hidden


def case(blank):
    # The module a blank lives in is its part's id (blanks.py and course.yaml agree).
    return pytest.param(blank, id=blank, marks=[pytest.mark.part(BLANKS[blank].module), pytest.mark.points(1),
                                                pytest.mark.blanks(blank)])


@pytest.mark.parametrize("blank", [case(b) for b in BLANKS])
def test_hidden(blank, hidden_student, hidden_vectors, course):
    """{blank} on hidden inputs"""
    try:
        value_check(hidden_student, hidden_vectors, f"hidden/{blank}", course.value_rel_error, fn=blank)
    except (StudentError, CheckFailed):
        # One message and one status for every way to fail: which way it failed (an error
        # kind, a crash against a wrong value) would tell the student something of the inputs.
        raise CheckFailed(f"{blank} does not give the reference's answers on the hidden inputs (hidden checks "
                          "show no details; its public checks show what is compared)") from None
    except Exception:  # a bug of ours: say so, but not what it said (a shape, a value)
        raise RuntimeError(f"the grader failed on {blank}'s hidden check; details withheld") from None
