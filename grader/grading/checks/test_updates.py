"""Weight gradients and the SGD step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest

from grader.grading.checks.common import all_unchanged, call, diagnosed, not_judged, related, value_check
from grader.grading.gradcheck import VALUE_FLOOR, CheckFailed, assert_close, relative_error
from grader.sandbox.process import StudentError

if TYPE_CHECKING:  # annotations only
    from grader.config import Course
    from grader.grading.vectors import Cases
    from grader.sandbox.process import Sandbox

pytestmark = pytest.mark.part("updates")

# The recorded case, and one where every matrix is square: a transpose in the wrong place then
# keeps every shape and changes the values.
CASES = ("layer_gradients", "layer_gradients/square")


def check_gradient(student: Sandbox, vectors: Cases, course: Course, index: int, what: str) -> None:
    for name in CASES:
        (delta, a_prev), expected = vectors[name]
        got = call(student, "layer_gradients", delta, a_prev)
        shape = "x".join(map(str, delta.shape)) + " delta, " + "x".join(map(str, a_prev.shape)) + " a_prev"
        with diagnosed(f"layer_gradients {what}", got[index], expected[index], [delta, a_prev]):
            assert_close(f"layer_gradients' {what} ({shape})", got[index], expected[index], course.value_rel_error)


@pytest.mark.points(4)
@pytest.mark.blanks("layer_gradients' dW")
def test_layer_gradients_dW(student, vectors, course):
    """layer_gradients' dW = delta a_prev^T matches the reference"""
    check_gradient(student, vectors, course, 0, "dW")


@pytest.mark.points(3)
@pytest.mark.blanks("layer_gradients' db")
def test_layer_gradients_db(student, vectors, course):
    """layer_gradients' db = delta summed over columns matches the reference"""
    check_gradient(student, vectors, course, 1, "db")


@pytest.mark.points(3)
@pytest.mark.blanks("sgd_update")
def test_sgd_update_values(student, vectors, course):
    """sgd_update matches the reference"""
    value_check(student, vectors, "sgd_update", course.value_rel_error)


@pytest.mark.property
@pytest.mark.points(3)
@pytest.mark.blanks("sgd_update")
def test_sgd_update_moves_against_gradient(student, vectors, course):
    """sgd_update moves every parameter by -lr times its gradient"""
    (params, grads, case_lr), expected = vectors["sgd_update"]
    lr = 0.05
    try:
        new = student.call("sgd_update", params, grads, lr)
        at_case = student.call("sgd_update", params, grads, case_lr)
    except StudentError as exc:
        raise not_judged("how sgd_update moves the parameters", exc) from None
    if not related(at_case, expected, base=params, either_sign=True):  # the direction is this check's verdict
        raise CheckFailed(
            f"not graded: sgd_update's step at lr = {case_lr:g} is not yet an attempt at the "
            "reference's (it does not rise and fall with it): how it scales with lr counts once it is"
        )
    for name in params:
        if name not in new:
            raise CheckFailed(f"sgd_update's result has no {name!r}")
        if new[name].shape != params[name].shape:
            raise CheckFailed(f"sgd_update's {name} has shape {new[name].shape}; expected {params[name].shape}")
        step = new[name] - params[name]
        if not step.any():
            raise CheckFailed(f"sgd_update left {name} unchanged; it should move by -lr * d{name}")
        if np.sum(step * grads[name]) >= 0:
            raise CheckFailed(f"sgd_update moved {name} along its gradient, not against it: use {name} - lr * d{name}")
        # judged as the values are: at the course's tolerance (a float32 result is right)
        if (
            relative_error(step, -lr * grads[name], VALUE_FLOOR).max() > course.value_rel_error * 10
            and relative_error(new[name], params[name] - lr * grads[name], VALUE_FLOOR).max() > course.value_rel_error
        ):
            raise CheckFailed(f"sgd_update moved {name} by something other than -lr * d{name} (lr = {lr})")


@pytest.mark.property
@pytest.mark.points(2)
@pytest.mark.blanks("sgd_update")
def test_sgd_update_leaves_inputs_unchanged(student, vectors, course):
    """sgd_update returns new arrays and does not modify params or grads"""
    all_unchanged(student, vectors, course, ("sgd_update",), steps=("sgd_update",))
