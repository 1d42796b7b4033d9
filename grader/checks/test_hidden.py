"""Hidden checks: every blank again, on inputs the students never see (`grade check --hidden`).

They guard against answers hard-coded for the public vectors. What they report is only the
verdict: no input, no expected value, and none of the student's own text (an exception
message or a print could carry the hidden inputs out), since these reports reach students.
"""
import pytest

from grader.blanks import BLANKS
from grader.checks.common import value_check
from grader.gradcheck import CheckFailed
from grader.sandbox import StudentError

pytestmark = pytest.mark.hidden
WHAT = {"not_implemented": "is not implemented yet", "exception": "raised an exception",
        "bad_return": "returned something other than what the blank promises", "nonfinite": "returned NaN or inf",
        "timeout": "ran out of time", "memory": "ran out of memory", "cpu": "ran out of CPU time"}


def case(blank):
    # The module a blank lives in is its part's id (blanks.py and course.yaml agree).
    return pytest.param(blank, id=blank, marks=[pytest.mark.part(BLANKS[blank].module), pytest.mark.points(1)])


@pytest.mark.parametrize("blank", [case(b) for b in BLANKS])
def test_hidden(blank, hidden_student, hidden_vectors, course):
    """{blank} on hidden inputs"""
    try:
        value_check(hidden_student, hidden_vectors, f"hidden/{blank}", course.value_rel_error, fn=blank)
    except StudentError as exc:
        what = WHAT.get(exc.kind, "ended the process running it")
        raise StudentError(exc.kind, f"{blank} {what} on the hidden inputs (details of hidden checks are "
                                     "not shown)") from None
    except CheckFailed:
        raise CheckFailed(f"{blank} does not match the reference on the hidden inputs (details of hidden "
                          "checks are not shown; its public checks show what is compared)") from None
