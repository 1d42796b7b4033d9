"""The delta recursion: hidden_delta and backward, by value and by central differences of
the loss with respect to every W and b of a small two-hidden-layer net."""
import numpy as np
import pytest

from grader.checks.common import (away_from_zero, forward_cache, forward_losses, gated, small_net, unchanged,
                                  value_check, with_dependencies)
from grader.gradcheck import CheckFailed, assert_gradient, numeric_gradient

pytestmark = pytest.mark.part("backprop")


@pytest.mark.points(4)
def test_hidden_delta_values(student, vectors, course):
    """hidden_delta matches the reference"""
    try:
        value_check(student, vectors, "hidden_delta", course.value_rel_error)
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "hidden_delta", ["relu_prime"])


@pytest.mark.points(6)
@gated("relu")
def test_hidden_delta_gradient(student, vectors, course):
    """hidden_delta agrees with central differences of L = sum(delta_next * (W_next relu(z)))"""
    rng = np.random.default_rng(6)
    W_next, delta_next = rng.standard_normal((3, 5)), rng.standard_normal((3, 4))
    z = away_from_zero(rng, (5, 4), 0.01, 2.0)
    # dL/dz(l+1) of this linear L is exactly delta_next, so dL/dz(l) is what hidden_delta computes.
    def losses(points):
        a = student.map("relu", [[p["z"]] for p in points])
        return [float(np.sum(delta_next * (W_next @ ai))) for ai in a]

    numeric = numeric_gradient(losses, {"z": z})["z"]
    try:
        analytic = student.call("hidden_delta", W_next, delta_next, z)
        assert_gradient("hidden_delta(W_next, delta_next, z)", numeric, analytic, course.gradient_rel_error,
                        "the loss through your relu")
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "hidden_delta", ["relu", "relu_prime"])


@pytest.mark.points(5)
def test_backward_values(student, vectors, course):
    """backward matches the reference on a 6-5-4-3 net"""
    try:
        value_check(student, vectors, "backward", course.value_rel_error, m=4)
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "backward",
                          ["relu_prime", "output_delta", "hidden_delta", "layer_gradients"])


def kink_free_net(rng, sizes, m, margin=1e-3):
    """A small net whose hidden z stay at least `margin` from 0, so that perturbing any
    weight by h cannot cross ReLU's kink; deterministic because rng is seeded."""
    while True:
        params, X, y = small_net(rng, sizes, m)
        a, ok = X, True
        for l in range(1, len(sizes) - 1):
            z = params[f"W{l}"] @ a + params[f"b{l}"]
            ok &= bool(np.abs(z).min() > margin)
            a = np.maximum(z, 0)
        if ok:
            return params, X, y


@pytest.mark.points(8)
@gated("relu", "softmax", "cross_entropy")
def test_backward_gradient(student, vectors, course):
    """backward agrees with central differences of the loss for every W and b of a 5-4-4-3 net"""
    params, X, y = kink_free_net(np.random.default_rng(7), [5, 4, 4, 3], 3)
    numeric = numeric_gradient(lambda points: forward_losses(student, points, X, y), params)
    grads = student.call("backward", params, forward_cache(student, params, X), y)
    try:
        if set(grads) != set(params):
            raise CheckFailed(f"backward returned keys {sorted(grads)}; expected {sorted(params)}")
        for name in sorted(params, key=lambda k: (k[1:], k[0] == "b")):
            assert_gradient(f"backward's dL/d{name}", numeric[name], grads[name], course.gradient_rel_error,
                            "the loss")
    except CheckFailed as exc:
        with_dependencies(exc, student, vectors, course.value_rel_error, "backward",
                          ["relu_prime", "output_delta", "hidden_delta", "layer_gradients"])


@pytest.mark.points(2)
@gated("backward")
def test_backward_leaves_inputs_unchanged(student, vectors, course):
    """backward does not modify params, cache or y"""
    args, _ = vectors["backward"]
    unchanged(student, "backward", *args)
