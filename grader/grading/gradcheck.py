"""Gradient checks and value comparisons: where the answer is wrong, in numbers (what the
numbers most likely mean is diagnose.py's job).

relative error = max |n - a| / max(1e-8, |n| + |a|)   (CS231n's measure; the floor keeps a
dead ReLU's 0/0 from becoming NaN). Central differences in float64 with h = 1e-5 give
errors near 1e-8 on small smooth nets; a real mistake gives errors near 1.
"""

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

H = 1e-5


class CheckFailed(AssertionError):
    """A check's verdict: str(self) is the one line shown to the student."""


class NotGraded(CheckFailed):
    """The check could not be graded here, for a reason outside the student's code (no MNIST
    data on this machine): it scores 0, its part says "not graded", and str(self) says the fix."""


def relative_error(numeric: ArrayLike, analytic: ArrayLike, floor: float = 1e-8) -> np.ndarray:
    """Element-wise |n - a| / max(floor, |n| + |a|)."""
    numeric, analytic = np.asarray(numeric, float), np.asarray(analytic, float)
    return np.abs(numeric - analytic) / np.maximum(floor, np.abs(numeric) + np.abs(analytic))


def numeric_gradient(
    loss_many: Callable[[list[dict[str, np.ndarray]]], Sequence[float]], x: dict[str, np.ndarray], h: float = H
) -> dict[str, np.ndarray]:
    """Central differences of a scalar loss with respect to every entry of every array in x.

    x: dict name -> float64 array. loss_many(list of dicts like x) -> list of losses; it is
    called once with all 2N perturbed copies, so a remote loss costs one round trip.
    Returns dict name -> dL/dx[name], by (L(x + h e_i) - L(x - h e_i)) / 2h.
    """
    points, index = [], []
    for name, value in x.items():
        for i in range(value.size):
            for sign in (1.0, -1.0):
                moved = dict(x)
                moved[name] = value.copy()
                moved[name].flat[i] += sign * h
                points.append(moved)
            index.append((name, i))
    losses = np.asarray(loss_many(points), dtype=np.float64).reshape(-1, 2)
    grads = {name: np.zeros_like(value) for name, value in x.items()}
    for (name, i), (plus, minus) in zip(index, losses, strict=True):
        grads[name].flat[i] = (plus - minus) / (2 * h)
    return grads


def at(index: Iterable[int | np.integer]) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def shown(got: float, expected: float, other: str = "expected") -> str:
    """'x, expected y' with enough digits that x and y read differently: 6, or up to 12 when the
    two agree to 6 (a float32 answer off at the 7th digit read 'got -0.000161644, expected
    -0.000161644': red team)."""
    for digits in (6, 9, 12):
        a, b = f"{got:.{digits}g}", f"{expected:.{digits}g}"
        if a != b:
            break
    return f"{a}, {other} {b}"


VALUE_FLOOR = 1e-4  # values near 0 (a dead unit, a tiny probability) get an absolute tolerance of tol * 1e-4


def assert_close(what: str, got: Any, expected: np.ndarray, tol: float) -> None:
    """Compare one float64 array with the expected one; raise CheckFailed saying where.
    Same measure as the gradient checks, with a larger floor: two right answers computed
    in a different order differ by ~1e-16 absolute, which the 1e-8 floor would magnify."""
    got, expected = np.asarray(got, float), np.asarray(expected, float)
    if got.shape != expected.shape:
        raise CheckFailed(f"{what} has shape {got.shape}; expected {expected.shape}")
    if not np.all(np.isfinite(got)):
        i = np.unravel_index(np.argmin(np.isfinite(got)), got.shape)
        raise CheckFailed(f"{what} is {got[i]} at {at(i)}; expected {expected[i]:.6g}")
    err = relative_error(got, expected, VALUE_FLOOR)
    if err.size and err.max() > tol:
        i = np.unravel_index(np.argmax(err), err.shape)
        raise CheckFailed(
            f"{what}: relative error {err[i]:.2g} at {at(i)} (threshold {tol:g}): got {shown(got[i], expected[i])}"
        )


def assert_same_structure_close(
    what: str, got: Any, expected: np.ndarray | list[np.ndarray] | dict[str, np.ndarray], tol: float
) -> None:
    """assert_close over arrays, pairs (lists) or dicts of arrays."""
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            keys = sorted(got) if isinstance(got, dict) else type(got).__name__
            raise CheckFailed(f"{what} has keys {keys}; expected {sorted(expected)}")
        for k in expected:
            assert_close(f"{what}[{k!r}]", got[k], expected[k], tol)
    elif isinstance(expected, list):
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(f"{what}[{i}]", g, e, tol)
    else:
        assert_close(what, got, expected, tol)


def assert_gradient(what: str, numeric: np.ndarray, analytic: ArrayLike, tol: float, source: str) -> None:
    """Compare an analytic gradient with central differences of `source`."""
    analytic = np.asarray(analytic, float)
    if analytic.shape != numeric.shape:
        raise CheckFailed(f"{what} has shape {analytic.shape}; expected {numeric.shape}")
    if not np.all(np.isfinite(analytic)):
        raise CheckFailed(f"{what} contains NaN or inf")
    err = relative_error(numeric, analytic)
    if err.size and err.max() > tol:
        i = np.unravel_index(np.argmax(err), err.shape)
        raise CheckFailed(
            f"{what} disagrees with central differences of {source}: relative error "
            f"{err[i]:.2g} at {at(i)} (threshold {tol:g}): analytic {shown(analytic[i], numeric[i], 'numeric')}"
        )
