"""Weight gradients and the SGD step."""
import numpy as np
import pytest

from grader.checks.common import call, diagnosed, gated, unchanged, value_check
from grader.gradcheck import CheckFailed, assert_close

pytestmark = pytest.mark.part("updates")


def gradients(student, vectors):
    (delta, a_prev), expected = vectors["layer_gradients"]
    got = call(student, "layer_gradients", delta, a_prev)
    return got, expected


@pytest.mark.points(4)
@pytest.mark.blanks("layer_gradients")
def test_layer_gradients_dW(student, vectors, course):
    """layer_gradients' dW = delta a_prev^T matches the reference"""
    (dW, _), (expected, _) = gradients(student, vectors)
    with diagnosed("layer_gradients dW", dW, expected, vectors["layer_gradients"][0]):
        assert_close("layer_gradients' dW", dW, expected, course.value_rel_error)


@pytest.mark.points(3)
@pytest.mark.blanks("layer_gradients")
def test_layer_gradients_db(student, vectors, course):
    """layer_gradients' db = delta summed over columns matches the reference"""
    (_, db), (_, expected) = gradients(student, vectors)
    with diagnosed("layer_gradients db", db, expected, vectors["layer_gradients"][0]):
        assert_close("layer_gradients' db", db, expected, course.value_rel_error)


@pytest.mark.points(3)
@pytest.mark.blanks("sgd_update")
def test_sgd_update_values(student, vectors, course):
    """sgd_update matches the reference"""
    value_check(student, vectors, "sgd_update", course.value_rel_error)


@pytest.mark.points(3)
@pytest.mark.blanks("sgd_update")
def test_sgd_update_moves_against_gradient(student, vectors):
    """sgd_update moves every parameter by -lr times its gradient"""
    (params, grads, _), _ = vectors["sgd_update"]
    lr = 0.05
    new = student.call("sgd_update", params, grads, lr)
    for name in params:
        if name not in new:
            raise CheckFailed(f"sgd_update's result has no {name!r}")
        if new[name].shape != params[name].shape:
            raise CheckFailed(f"sgd_update's {name} has shape {new[name].shape}; expected {params[name].shape}")
        step = new[name] - params[name]
        if np.sum(step * grads[name]) >= 0:
            raise CheckFailed(f"sgd_update moved {name} along its gradient, not against it: use W - lr * dW")
        if not np.allclose(step, -lr * grads[name], rtol=1e-9, atol=1e-12):
            raise CheckFailed(f"sgd_update moved {name} by something other than -lr * grad (lr = {lr})")


@pytest.mark.points(2)
@pytest.mark.blanks("sgd_update")
@gated("sgd_update")
def test_sgd_update_leaves_inputs_unchanged(student, vectors, course):
    """sgd_update returns new arrays and does not modify params or grads"""
    args, _ = vectors["sgd_update"]
    unchanged(student, "sgd_update", *args)
