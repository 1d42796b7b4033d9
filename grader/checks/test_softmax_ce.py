"""Softmax and cross-entropy: values, stability, the mean over the batch, and delta(L)
against d(cross_entropy o softmax)/dz by central differences."""
import numpy as np
import pytest

from grader.checks.common import call, central_check, diagnosed, gated, unchanged, value_check
from grader.diagnose import overflow
from grader.vectors import stable_logits
from grader.gradcheck import CheckFailed, assert_close

pytestmark = pytest.mark.part("softmax_ce")


@pytest.mark.points(3)
@pytest.mark.blanks("softmax")
def test_softmax_values(student, vectors, course):
    """softmax matches the reference (column-wise)"""
    value_check(student, vectors, "softmax", course.value_rel_error)


@pytest.mark.points(3)
@pytest.mark.blanks("softmax")
@gated("softmax")
def test_softmax_stable(student, vectors, course, note):
    """softmax is stable for logits of 1000: softmax(z + 1000) = softmax(z), finite"""
    z = stable_logits()
    small = call(student, "softmax", z)
    large = call(student, "softmax", z + 1000.0)
    warned = student.last_warnings
    with diagnosed("softmax", large, small, [z + 1000.0]):
        assert_close("softmax(z + 1000)", large, small, course.value_rel_error)
    # and both right, not merely equal (zeros equal zeros): the reference's answer at z + 1000
    value_check(student, vectors, "softmax/large", course.value_rel_error, fn="softmax")
    if warned:  # the child's account of itself: shown, never scored (the answers above are the verdict)
        note(f"the answers are right, but numpy warned in your code: {'; '.join(warned)}. "
             + overflow("softmax").removeprefix("diagnosis: ").split("\n")[0])


@pytest.mark.points(3)
@pytest.mark.blanks("cross_entropy")
def test_cross_entropy_values(student, vectors, course):
    """cross_entropy matches the reference"""
    value_check(student, vectors, "cross_entropy", course.value_rel_error)


@pytest.mark.points(2)
@pytest.mark.blanks("cross_entropy")
@gated("cross_entropy")
def test_cross_entropy_is_a_mean(student, vectors, course):
    """cross_entropy is the mean over the columns: repeating the batch leaves it unchanged"""
    (a, y), _ = vectors["cross_entropy"]
    once = student.call("cross_entropy", a, y)
    twice = student.call("cross_entropy", np.hstack([a, a]), np.hstack([y, y]))
    if abs(twice - once) > course.value_rel_error * max(1e-8, abs(once)):
        raise CheckFailed(f"cross_entropy of the batch repeated twice is {float(twice):.6g}, but of the batch "
                          f"once {float(once):.6g}: average over the m columns (divide by m = y.shape[1])")


@pytest.mark.points(3)
@pytest.mark.blanks("output_delta")
def test_output_delta_values(student, vectors, course):
    """output_delta matches the reference, (a - y) / m"""
    value_check(student, vectors, "output_delta", course.value_rel_error)


@pytest.mark.points(4)
@pytest.mark.blanks("output_delta")
def test_output_delta_gradient(student, vectors, course):
    """output_delta(softmax(z), y) agrees with central differences of cross_entropy(softmax(z), y)"""
    central_check(student, vectors, course, "output_delta", "output_delta(softmax(z), y)",
                  "cross_entropy(softmax(z), y)")


@pytest.mark.points(2)
@pytest.mark.blanks("softmax", "cross_entropy", "output_delta")
@gated("softmax", "cross_entropy", "output_delta")
def test_softmax_ce_leave_inputs_unchanged(student, vectors, course):
    """softmax, cross_entropy and output_delta do not modify their inputs"""
    (a, y), _ = vectors["output_delta"]
    unchanged(student, "softmax", a * 3)
    unchanged(student, "cross_entropy", a, y)
    unchanged(student, "output_delta", a, y)
