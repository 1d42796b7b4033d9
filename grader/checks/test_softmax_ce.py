"""Softmax and cross-entropy: values, stability, the mean over the batch, and delta(L)
against d(cross_entropy o softmax)/dz by central differences."""

import numpy as np
import pytest

from grader.checks.common import all_unchanged, call, central_check, diagnosed, not_judged, related, value_check
from grader.diagnose import EQUATIONS, overflow
from grader.gradcheck import CheckFailed, assert_close
from grader.sandbox import StudentError
from grader.vectors import stable_logits

pytestmark = pytest.mark.part("softmax_ce")

# Each column shifted by its own constant: columns near +1000, near -1000 and near 0 in one batch.
# Subtracting one max for the whole batch (or each row's) leaves some column at exp(-2000) = 0
# everywhere, and 0 / 0 is NaN; only each column's own max keeps every column finite.
SHIFTS = np.array([[1000.0, 0.0, -1000.0, 500.0, 0.0, 1000.0]])


def spread_logits() -> tuple[np.ndarray, np.ndarray]:
    """Two columns that mix 1000 with 0 (and -1000 with 0) inside the column, and their softmax:
    exp(-1000) is 0 in float64, so the answers are exact. Subtracting the column's min or mean
    instead of its max overflows here."""
    z = np.zeros((10, 2))
    z[3, 0], z[7, 1] = 1000.0, -1000.0
    expected = np.zeros((10, 2))
    expected[3, 0] = 1.0
    expected[:, 1] = 1 / 9
    expected[7, 1] = 0.0
    return z, expected


@pytest.mark.points(3)
@pytest.mark.blanks("softmax")
def test_softmax_values(student, vectors, course):
    """softmax matches the reference (column-wise; a batch of 6 and a batch of one)"""
    value_check(student, vectors, "softmax", course.value_rel_error)
    value_check(student, vectors, "softmax/one_example", course.value_rel_error)


@pytest.mark.property
@pytest.mark.points(3)
@pytest.mark.blanks("softmax")
def test_softmax_stable(student, vectors, course, note):
    """softmax is stable at logits of +-1000, also where a column mixes 1000 with 0

    Each column near +1000, 0 or -1000 must equal softmax of the same column shifted to 0, and
    the columns mixing 1000 (or -1000) with 0 their exact answers."""
    z = stable_logits()
    spread, exact = spread_logits()
    try:
        plain = call(student, "softmax", z)
    except StudentError as exc:
        raise not_judged("softmax's stability", exc) from None
    (logits,), expected = vectors["softmax"]
    try:
        attempt = student.call("softmax", logits)
    except StudentError as exc:
        raise not_judged("softmax's stability", exc) from None
    if not related(attempt, expected):
        raise CheckFailed(
            "not graded: softmax's answer on its value case is not yet an attempt at the reference's "
            "(it does not rise and fall with it): stability counts once it is"
        )
    if plain.shape != z.shape or (np.abs(plain.sum(axis=0) - 1) > course.value_rel_error * 10).any():
        raise CheckFailed(
            f"not graded: softmax(z)'s columns do not each sum to 1 (shape {plain.shape}) already at "
            "ordinary logits, so the values are wrong (softmax's value check says how); stability is "
            "judged once each column is a probability distribution"
        )
    batch = np.hstack([z + SHIFTS, spread])
    try:
        got = student.call("softmax", batch)
    except StudentError as exc:
        if exc.kind != "nonfinite":
            raise
        raise CheckFailed(
            f"softmax of a batch whose columns sit near +1000, 0 and -1000, and mix 1000 with 0: {exc}\n"
            "diagnosis: exp(z) overflows above about 709, and inf / inf is NaN; exp(-1000) is 0, and 0 / 0 is NaN. "
            "So subtracting no constant, or the column's min or mean, overflows; subtracting one max for the whole "
            "batch (z.max()) or each row's (axis=1) leaves a column all 0. Subtract each column's own max: "
            f"z - z.max(axis=0, keepdims=True).\nsoftmax should compute {EQUATIONS['softmax']}"
        ) from None
    warned = student.last_warnings
    if got.shape != batch.shape:
        raise CheckFailed(f"softmax of a {batch.shape[0]}x{batch.shape[1]} batch has shape {got.shape}")
    with diagnosed("softmax", got[:, : z.shape[1]], plain, [z + SHIFTS]):
        assert_close("softmax(z + a constant per column)", got[:, : z.shape[1]], plain, course.value_rel_error)
    assert_close(
        "softmax of columns mixing 1000 and 0 (exactly one-hot, and 1/9 where -1000 meets eight 0s)",
        got[:, z.shape[1] :],
        exact,
        course.value_rel_error,
    )
    if warned:  # the child's account of itself: shown, never scored (the answers above are the verdict)
        note(
            f"the answers are right, but numpy warned in your code: {'; '.join(warned)}. "
            + overflow("softmax").removeprefix("diagnosis: ").split("\n")[0]
        )


@pytest.mark.points(3)
@pytest.mark.blanks("cross_entropy")
def test_cross_entropy_values(student, vectors, course):
    """cross_entropy matches the reference"""
    value_check(student, vectors, "cross_entropy", course.value_rel_error)


@pytest.mark.property
@pytest.mark.points(2)
@pytest.mark.blanks("cross_entropy")
def test_cross_entropy_is_a_mean(student, vectors, course):
    """cross_entropy is the mean over the columns: repeating the batch leaves it unchanged"""
    (a, y), expected = vectors["cross_entropy"]
    try:
        once = student.call("cross_entropy", a, y)
        twice = student.call("cross_entropy", np.hstack([a, a]), np.hstack([y, y]))
        other = student.call("cross_entropy", np.roll(a, 1, axis=1), y)
    except StudentError as exc:
        raise not_judged("whether cross_entropy is a mean", exc) from None
    if once == other or not related(once, expected):
        raise CheckFailed(
            f"not graded: cross_entropy gave {float(once):.6g} where the reference gives "
            f"{float(expected):.6g}{', and the same for another batch' if once == other else ''}: "
            "whether it is a mean counts once it computes the loss from a and y (within a factor 2)"
        )
    if abs(twice - once) > course.value_rel_error * max(1e-8, abs(once) + abs(twice)):
        raise CheckFailed(
            f"cross_entropy of the batch repeated twice is {float(twice):.6g}, but of the batch "
            f"once {float(once):.6g}: average over the m columns (divide by m = y.shape[1])"
        )


@pytest.mark.points(3)
@pytest.mark.blanks("output_delta")
def test_output_delta_values(student, vectors, course):
    """output_delta matches the reference, (a - y) / m"""
    value_check(student, vectors, "output_delta", course.value_rel_error)


@pytest.mark.points(4)
@pytest.mark.blanks("output_delta")
def test_output_delta_gradient(student, vectors, course):
    """output_delta(softmax(z), y) agrees with central differences of cross_entropy(softmax(z), y)"""
    central_check(
        student, vectors, course, "output_delta", "output_delta(softmax(z), y)", "cross_entropy(softmax(z), y)"
    )


@pytest.mark.property
@pytest.mark.points(2)
@pytest.mark.blanks("softmax", "cross_entropy", "output_delta")
def test_softmax_ce_leave_inputs_unchanged(student, vectors, course):
    """softmax, cross_entropy and output_delta do not modify their inputs"""
    all_unchanged(student, vectors, course, ("softmax", "cross_entropy", "output_delta"))
