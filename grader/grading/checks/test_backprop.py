"""The delta recursion: hidden_delta and backward, by value and by central differences of
the loss with respect to every W and b of a small net; then backward with your own helpers.

Each blank is graded on its own: the helpers it calls answer as the reference's did on the
same inputs (sandbox.Replay), so a mistake in relu_prime or layer_gradients costs their checks,
not these. One check runs backward with your own helpers, to see that the pieces fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from grader.grading.checks.common import all_unchanged, central_check, value_check
from grader.grading.gradcheck import CheckFailed, assert_same_structure_close
from grader.sandbox.process import StudentError

if TYPE_CHECKING:  # annotations only
    from grader.grading.vectors import Cases
    from grader.sandbox.process import Sandbox

pytestmark = pytest.mark.part("backprop")


@pytest.mark.points(4)
@pytest.mark.blanks("hidden_delta")
def test_hidden_delta_values(student, vectors, course):
    """hidden_delta matches the reference (and where W_next is square, so a missing transpose shows)"""
    value_check(student, vectors, "hidden_delta", course.value_rel_error)
    value_check(student, vectors, "hidden_delta/square", course.value_rel_error)


@pytest.mark.points(6)
@pytest.mark.blanks("hidden_delta")
def test_hidden_delta_gradient(student, vectors, course):
    """hidden_delta agrees with central differences of L = sum(delta_next * (W_next relu(z)))"""
    central_check(
        student, vectors, course, "hidden_delta", "hidden_delta(W_next, delta_next, z)", "the loss through relu"
    )


@pytest.mark.points(5)
@pytest.mark.blanks("backward")
def test_backward_values(student, vectors, course):
    """backward matches the reference on a 6-5-4-3 net and on a 4-4-4-3 net (square W, where a transpose shows)"""
    value_check(student, vectors, "backward", course.value_rel_error)
    value_check(student, vectors, "backward/square", course.value_rel_error)


@pytest.mark.points(7)
@pytest.mark.blanks("backward")
def test_backward_gradient(student, vectors, course):
    """backward agrees with central differences of the loss for every W and b of a 6-5-4-3 net"""
    central_check(student, vectors, course, "backward", "backward's dL/d{}", "the loss")


@pytest.mark.property
@pytest.mark.points(2)
@pytest.mark.blanks("hidden_delta", "backward")
def test_backprop_leaves_inputs_unchanged(student, vectors, course):
    """hidden_delta and backward do not modify their inputs (W, delta, z; params, cache, y)"""
    # each alone: the helpers they call are replayed
    all_unchanged(student, vectors, course, ("hidden_delta", "backward"), replayed=("hidden_delta", "backward"))


def failure(exc: StudentError) -> str | tuple[str, str]:
    """What a failed call comes down to, to tell two failures apart: the blank that was not
    implemented, or the kind and the line of student code that raised."""
    text = exc.args[0]
    if exc.kind == "not_implemented":
        return text.split(" (called by")[0]
    if exc.is_error:  # a timeout, a crash: where it happened is not in the message (red team)
        return exc.kind
    return (exc.kind, exc.where or text)


def own_file_fails(exc: StudentError) -> bool:
    """Did backward's own file fail to import (a syntax error in it, say)? Then the helpers in
    that file fail the same way, and that says nothing of how backward calls them."""
    text = exc.args[0]
    return "backprop.py" in text.split("\n")[0] and any(
        word in text for word in ("SyntaxError in backprop.py", "importing backprop.py", "backprop.py is not valid")
    )


@pytest.mark.property
@pytest.mark.points(1)
@pytest.mark.blanks("backward")
def test_backward_with_your_helpers(student, vectors, course):
    """backward with your own helpers gives what they give when called as the notes' recursion does"""
    (params, cache, y), expected = vectors["backward"]
    tol = course.value_rel_error
    try:
        own = student.call("backward", params, cache, y)  # no replay: your own helpers answer
    except StudentError as exc:
        own = exc
    if not isinstance(own, StudentError):
        try:
            assert_same_structure_close("backward", own, expected, tol)
            return  # right, whatever the helpers do
        except CheckFailed:
            pass
    # The recursion as backward's docstring states it, each step a call of your own helper:
    # what backward should give with them.
    try:
        top = len(params) // 2
        composed, delta = {}, student.call("output_delta", cache[f"a{top}"], y)
        for layer in reversed(range(1, top + 1)):
            below = layer - 1
            composed[f"W{layer}"], composed[f"b{layer}"] = student.call("layer_gradients", delta, cache[f"a{below}"])
            if below:
                delta = student.call("hidden_delta", params[f"W{layer}"], delta, cache[f"z{below}"])
    except StudentError as exc:
        if isinstance(own, StudentError) and failure(own) == failure(exc) and not own_file_fails(own):
            # Both stop at the same helper's failure: the glue cannot be seen through it.
            right_alone(student, vectors, tol, f"backward with your own helpers stops where they do ({exc})")
            return
        raise CheckFailed(
            f"backward with your own helpers: {own if isinstance(own, StudentError) else 'gave an answer'}"
            f"; calling your helpers as the notes' recursion does: {exc}"
        ) from None
    if isinstance(own, StudentError):
        raise CheckFailed(
            f"backward with your own helpers failed ({own}), but calling your helpers as the "
            "notes' recursion does works: check how backward calls them"
        ) from None
    try:
        assert_same_structure_close("backward with your own helpers", own, composed, tol)
    except CheckFailed as exc:
        raise CheckFailed(
            f"{exc}, where calling your own helpers as the notes' recursion does gives "
            "the expected value: check how backward calls them (arguments, their order, "
            "which layer's W, z and a)"
        ) from None
    # It agrees with your helpers, which are wrong: glue and helpers could both be no attempt at all
    # (zeros everywhere agree with each other).
    right_alone(student, vectors, tol, "backward with your own helpers agrees with them, but they are wrong")


def right_alone(student: Sandbox, vectors: Cases, tol: float, why: str) -> None:
    """The glue counts where helpers hide it only if backward is right with the reference's
    helpers (a helper's bug then costs that helper's checks, not this one); otherwise backward's
    own value check has said what is wrong, and this check is not graded."""
    try:
        value_check(student, vectors, "backward", tol)
    except (CheckFailed, StudentError):
        raise CheckFailed(
            f"not graded: {why}, and backward is not right with the reference's helpers either "
            "(its value check says how)"
        ) from None
