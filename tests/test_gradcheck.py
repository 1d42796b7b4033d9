"""The gradient checker must pass right gradients and FAIL wrong ones (tinygrad's rule:
a wrong step size fails too)."""
import numpy as np
import pytest

from grader.grading.gradcheck import CheckFailed, assert_close, assert_gradient, numeric_gradient, relative_error

rng = np.random.default_rng(0)
X = rng.standard_normal((3, 4))
C = rng.standard_normal((3, 4))


def losses(points):
    return [float(np.sum(np.sin(p["x"]) * C)) for p in points]


def test_right_gradient_passes_with_a_tiny_error():
    numeric = numeric_gradient(losses, {"x": X})["x"]
    assert relative_error(numeric, np.cos(X) * C).max() < 1e-8
    assert_gradient("d/dx", numeric, np.cos(X) * C, 1e-6, "f")


@pytest.mark.parametrize("wrong", [lambda g: -g, lambda g: 2 * g, lambda g: g.T.copy().T + 1e-3,
                                   lambda g: np.sin(X) * C])
def test_wrong_analytic_gradient_fails(wrong):
    numeric = numeric_gradient(losses, {"x": X})["x"]
    with pytest.raises(CheckFailed, match="disagrees with central differences of f"):
        assert_gradient("d/dx", numeric, wrong(np.cos(X) * C), 1e-6, "f")


def test_wrong_step_size_fails():
    """h = 1 is far too coarse for sin: the same right analytic gradient must not pass."""
    numeric = numeric_gradient(losses, {"x": X}, h=1.0)["x"]
    with pytest.raises(CheckFailed):
        assert_gradient("d/dx", numeric, np.cos(X) * C, 1e-6, "f")


def test_float32_gradient_check_is_too_noisy_to_pass():
    """Why the checks run in float64: the same check in float32 fails at h = 1e-5."""
    def losses32(points):
        return [float(np.sum(np.sin(p["x"].astype(np.float32)) * C.astype(np.float32), dtype=np.float32))
                for p in points]
    numeric = numeric_gradient(losses32, {"x": X})["x"]
    assert relative_error(numeric, np.cos(X) * C).max() > 1e-3


def test_relative_error_floor_avoids_nan_for_dead_units():
    assert relative_error(np.zeros(3), np.zeros(3)).max() == 0.0


def test_numeric_gradient_covers_every_array():
    x = {"W": rng.standard_normal((2, 3)), "b": rng.standard_normal((2, 1))}
    grads = numeric_gradient(lambda ps: [float(np.sum(p["W"] ** 2) + 3 * np.sum(p["b"])) for p in ps], x)
    np.testing.assert_allclose(grads["W"], 2 * x["W"], rtol=1e-8)
    np.testing.assert_allclose(grads["b"], 3.0, rtol=1e-8)


def test_assert_close_names_the_index_and_values():
    e = np.arange(6.0).reshape(2, 3)
    g = e.copy()
    g[1, 2] = 0.5
    with pytest.raises(CheckFailed, match=r"at \[1, 2\].*got 0.5, expected 5"):
        assert_close("f(z)", g, e, 1e-6)
    assert_close("f(z)", e + 1e-12, e, 1e-6)
    with pytest.raises(CheckFailed, match=r"shape \(3, 2\); expected \(2, 3\)"):
        assert_close("f(z)", e.T, e, 1e-6)
    with pytest.raises(CheckFailed, match="nan"):
        assert_close("f(z)", e * np.nan, e, 1e-6)
