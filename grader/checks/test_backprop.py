"""The delta recursion: hidden_delta and backward, by value and by central differences of
the loss with respect to every W and b of a small two-hidden-layer net."""
import pytest

from grader.checks.common import central_check, gated, unchanged, value_check, with_dependencies
from grader.gradcheck import CheckFailed

pytestmark = pytest.mark.part("backprop")


@pytest.mark.points(4)
@pytest.mark.blanks("hidden_delta")
def test_hidden_delta_values(student, vectors, course):
    """hidden_delta matches the reference"""
    try:
        value_check(student, vectors, "hidden_delta", course.value_rel_error)
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "hidden_delta", ["relu_prime"])


@pytest.mark.points(6)
@pytest.mark.blanks("hidden_delta")
def test_hidden_delta_gradient(student, vectors, course):
    """hidden_delta agrees with central differences of L = sum(delta_next * (W_next relu(z)))"""
    try:
        central_check(student, vectors, course, "hidden_delta", "hidden_delta(W_next, delta_next, z)",
                      "the loss through relu")
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "hidden_delta", ["relu_prime"])


@pytest.mark.points(5)
@pytest.mark.blanks("backward")
def test_backward_values(student, vectors, course):
    """backward matches the reference on a 6-5-4-3 net"""
    try:
        value_check(student, vectors, "backward", course.value_rel_error)
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "backward",
                          ["relu_prime", "output_delta", "hidden_delta", "layer_gradients"])


@pytest.mark.points(8)
@pytest.mark.blanks("backward")
def test_backward_gradient(student, vectors, course):
    """backward agrees with central differences of the loss for every W and b of a 5-4-4-3 net"""
    try:
        central_check(student, vectors, course, "backward", "backward's dL/d{}", "the loss")
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "backward",
                          ["relu_prime", "output_delta", "hidden_delta", "layer_gradients"])


@pytest.mark.points(2)
@pytest.mark.blanks("backward")
@gated("backward")
def test_backward_leaves_inputs_unchanged(student, vectors, course):
    """backward does not modify params, cache or y"""
    args, _ = vectors["backward"]
    unchanged(student, "backward", *args)
