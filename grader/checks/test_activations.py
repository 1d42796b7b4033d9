"""Activation functions: values, derivatives by central differences, stability, purity."""

import numpy as np
import pytest

from grader.checks.common import all_unchanged, call, central_check, not_judged, value_check
from grader.diagnose import overflow
from grader.gradcheck import CheckFailed
from grader.sandbox import StudentError

pytestmark = pytest.mark.part("activations")


@pytest.mark.points(2)
@pytest.mark.blanks("relu")
def test_relu_values(student, vectors, course):
    """relu matches the reference"""
    value_check(student, vectors, "relu", course.value_rel_error)


@pytest.mark.points(2)
@pytest.mark.blanks("relu_prime")
def test_relu_prime_values(student, vectors, course):
    """relu_prime matches the reference"""
    value_check(student, vectors, "relu_prime", course.value_rel_error)


@pytest.mark.points(2)
@pytest.mark.blanks("relu_prime")
def test_relu_prime_gradient(student, vectors, course):
    """relu_prime agrees with central differences of relu (z away from the kink)"""
    central_check(student, vectors, course, "relu_prime", "relu_prime(z)", "relu")


@pytest.mark.points(2)
@pytest.mark.blanks("sigmoid")
def test_sigmoid_values(student, vectors, course):
    """sigmoid matches the reference"""
    value_check(student, vectors, "sigmoid", course.value_rel_error)


@pytest.mark.property
@pytest.mark.points(2)
@pytest.mark.blanks("sigmoid")
def test_sigmoid_stable(student, note):
    """sigmoid is finite and exact at z = +-1000

    And right at +-1 and +-3, where a step function that is exact at +-1000 is not."""
    z = np.array([[-1000.0, -750.0, -3.0, -1.0, 0.0, 1.0, 3.0, 750.0, 1000.0]])
    try:
        got = call(student, "sigmoid", z)
    except StudentError as exc:
        if exc.kind != "nonfinite":
            raise not_judged("sigmoid's stability", exc) from None
        raise
    e = np.exp(-np.abs(z))  # the grader's own sigmoid, in the form that never overflows
    expected = np.where(z >= 0, 1 / (1 + e), e / (1 + e))
    if got.shape != z.shape or not np.all(np.isfinite(got)) or np.abs(got - expected).max() > 1e-12:
        raise CheckFailed(
            f"sigmoid([-1000, -750, -3, -1, 0, 1, 3, 750, 1000]) gave "
            f"{np.array2string(got.ravel(), precision=4)}; expected "
            f"{np.array2string(expected.ravel(), precision=4)}"
        )
    # The verdict is the answer's. A warning is only the child's account of itself (a child
    # can say anything, or nothing): it is shown, never scored.
    if student.last_warnings:
        note(
            f"the answer is right, but numpy warned in your code: {'; '.join(student.last_warnings)}. "
            + overflow("sigmoid").removeprefix("diagnosis: ").split("\n")[0]
        )


@pytest.mark.points(2)
@pytest.mark.blanks("sigmoid_prime")
def test_sigmoid_prime_values(student, vectors, course):
    """sigmoid_prime matches the reference"""
    value_check(student, vectors, "sigmoid_prime", course.value_rel_error)


@pytest.mark.points(2)
@pytest.mark.blanks("sigmoid_prime")
def test_sigmoid_prime_gradient(student, vectors, course):
    """sigmoid_prime agrees with central differences of sigmoid"""
    central_check(student, vectors, course, "sigmoid_prime", "sigmoid_prime(z)", "sigmoid")


@pytest.mark.property
@pytest.mark.points(1)
@pytest.mark.blanks("relu", "relu_prime", "sigmoid", "sigmoid_prime")
def test_activations_leave_input_unchanged(student, vectors, course):
    """relu, relu_prime, sigmoid and sigmoid_prime do not modify z"""
    # each alone (sigmoid_prime's sigmoid is replayed); a modified input fails whichever blank did it
    all_unchanged(
        student, vectors, course, ("relu", "relu_prime", "sigmoid", "sigmoid_prime"), replayed=("sigmoid_prime",)
    )
