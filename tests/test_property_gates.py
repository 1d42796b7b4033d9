"""The property checks' gate (stability, a loss's mean, purity): they are graded once the blank's
answer is an attempt at the reference's (common.relation), so that one bug costs its own check
once and garbage earns none of them.

The red team's cases, each written as a test that could fail: a mean squared error summed over
the m examples (m times the reference's, beyond the old factor-2 gate) was "not graded" in its
mean check instead of failing it, and lost the loss part's purity check too; 0.5 sigma(z) lost
its stability check as well as its values; tanh for sigmoid, and a[0, 0] + 0.3 for the mean
squared error, earned stability, mean and purity points with every value check failing.

The fast tests call the checks themselves on a stand-in for the student's sandbox (Student:
plain Python functions, answers coerced as the sandbox does) with the public vectors; the slow
ones grade a copy of the reference with `grade check`, as a student would."""

import warnings

import numpy as np
import pytest
from helpers import ROOT, copy_of, grade_json

from grader import config
from grader.grading import vectors as vector_file
from grader.grading.checks.common import Trial, all_unchanged, loss_relation, related, relation
from grader.grading.checks.test_blanks import mean, stable
from grader.grading.gradcheck import CheckFailed
from grader.sandbox.process import StudentError

DESIGN = ROOT / "solutions" / "design-choices"


def load(assignment):
    course = config.load(ROOT / "course.yaml", assignment)
    return course, vector_file.load(ROOT / "exercises" / assignment / "vectors.json", course.blanks)


DC, DC_VECTORS = load("design-choices")
BP, BP_VECTORS = load("backprop")


def sigmoid(z):
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_prime(z):
    return sigmoid(z) * (1 - sigmoid(z))


def mse(a, y):
    return float(np.sum((a - y) ** 2) / (2 * y.shape[1]))


def mse_delta(a, y):
    return (a - y) * a * (1 - a) / y.shape[1]


REFERENCE = {"sigmoid": sigmoid, "sigmoid_prime": sigmoid_prime, "mse": mse, "mse_delta": mse_delta}


class Student:
    """The sandbox's calls, on plain functions: the reference's blanks with some replaced. An
    answer comes back as the sandbox coerces it (float64; a number as a 0-d array); watch=True
    also gives the arguments as they are after the call; numpy's warnings are kept as the
    child reports them (last_warnings)."""

    def __init__(self, course, **replaced):
        self.blanks, self.functions = course.blanks, {**REFERENCE, **replaced}
        self.last_warnings = []

    def call(self, fn, *args, watch=False, replay=None):
        copies = [{k: v.copy() for k, v in a.items()} if isinstance(a, dict) else np.copy(a) for a in args]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = np.asarray(self.functions[fn](*copies), dtype=np.float64)
        self.last_warnings = [f"{w.category.__name__}: {w.message}" for w in caught]
        if not np.all(np.isfinite(result)):
            raise StudentError("nonfinite", f"{fn} contains NaN or inf: every entry must be a finite number")
        if self.blanks[fn].returns == "scalar":
            result = result.reshape(())
        return (result, copies) if watch else result


def verdict(check, *args):
    """The check's outcome: 'passed', or its failure message."""
    try:
        check(*args)
    except (CheckFailed, StudentError) as exc:
        return str(exc)
    return "passed"


def mean_of(**replaced):
    return verdict(mean, Student(DC, **replaced), DC_VECTORS, DC, "mse")


def stable_of(notes=None, **replaced):
    notes = [] if notes is None else notes
    return verdict(stable, Student(DC, **replaced), DC_VECTORS, DC, "sigmoid", notes.append)


def purity_of(names, **replaced):
    return verdict(all_unchanged, Student(DC, **replaced), DC_VECTORS, DC, names)


# -- U1: a loss summed over the m examples ---------------------------------------------------------


def mse_summed(a, y):
    return float(np.sum((a - y) ** 2) / 2)


def test_a_loss_summed_over_the_examples_fails_its_mean_check_with_the_true_message():
    message = mean_of(mse=mse_summed)
    assert "of the batch repeated twice is" in message and "divide by m = y.shape[1]" in message, message
    assert "not graded" not in message
    assert mean_of() == "passed"  # test the tester: the reference's mean passes


def test_a_loss_summed_over_the_examples_keeps_its_parts_purity_check():
    assert purity_of(("mse", "mse_delta"), mse=mse_summed) == "passed"


def test_the_factor_of_a_summed_loss_is_one_constant_m_on_the_batches_it_is_judged_on():
    found = loss_relation(Student(DC, mse=mse_summed), DC_VECTORS, DC, "mse", mse_summed(*DC_VECTORS["mse"][0]))
    m = DC_VECTORS["mse"][0][0].shape[1]
    assert found.how == "factor" and found.factor == pytest.approx(m)


def test_a_loss_that_modifies_its_input_still_fails_purity_whatever_its_factor():
    def summed_in_place(a, y):
        a -= y
        return float(np.sum(a**2) / 2)

    assert "mse modified its input (argument 1)" in purity_of(("mse", "mse_delta"), mse=summed_in_place)


# -- C3: garbage earns no property points ----------------------------------------------------------


def mse_garbage(a, y):
    return float(a[0, 0] + 0.3)


def test_a_number_that_is_not_the_loss_earns_neither_mean_nor_purity():
    """a[0, 0] + 0.3: within a factor 2 of the reference's loss on the value case, different for
    another batch, and the same for the batch repeated twice (which keeps a[0, 0]); not one
    constant times the reference's on batches whose losses differ."""
    args, expected = DC_VECTORS["mse"]
    assert 0.5 <= mse_garbage(*args) / expected <= 2  # what the old gate saw: it passed
    message = mean_of(mse=mse_garbage)
    assert message.startswith("not graded: mse is not yet an attempt at the reference's loss"), message
    assert "not one constant times the reference's" in message
    assert purity_of(("mse", "mse_delta"), mse=mse_garbage).startswith("not graded: mse's answer is not yet an")


def test_a_constant_loss_earns_neither_mean_nor_purity():
    _, expected = DC_VECTORS["mse"]

    def constant(a, y):
        return float(expected)  # the reference's number itself, on the value case

    assert mean_of(mse=constant).startswith("not graded")
    assert purity_of(("mse",), mse=constant).startswith("not graded")


def test_tanh_for_sigmoid_earns_neither_stability_nor_purity():
    args, expected = DC_VECTORS["sigmoid"]
    assert np.corrcoef(np.tanh(args[0]).ravel(), expected.ravel())[0, 1] > 0.9  # what the old gate saw
    message = stable_of(sigmoid=np.tanh)
    assert message.startswith("not graded: sigmoid's answer on its value case is not yet an attempt"), message
    assert "have the other sign" in message
    assert purity_of(("sigmoid", "sigmoid_prime"), sigmoid=np.tanh).startswith("not graded: sigmoid's answer")


@pytest.mark.parametrize(
    "garbage",
    [
        lambda z: np.tanh(z),  # correlated, but negative where sigma is positive
        lambda z: z,  # the same
        lambda z: np.exp(z),  # positive, correlated at 0.5: where the reference has one sign that says little
        lambda z: np.full_like(z, 0.5),  # a constant
        lambda z: np.random.default_rng(0).uniform(size=z.shape),  # noise
    ],
    ids=["tanh", "z", "exp", "constant", "noise"],
)
def test_garbage_is_no_attempt_at_the_sigmoid(garbage):
    args, expected = DC_VECTORS["sigmoid"]
    assert not related(garbage(args[0]), expected, blank="sigmoid", args=args)


# -- one bug, one deduction: a typical single mistake is an attempt -----------------------------------

SINGLE_MISTAKES = [  # (blank, the assignment, the wrong answer as a function of the blank's arguments, how)
    ("sigmoid", DC_VECTORS, lambda z: 0.5 * sigmoid(z), "factor"),
    ("sigmoid", DC_VECTORS, lambda z: sigmoid(-z), "mistake"),
    ("sigmoid", DC_VECTORS, lambda z: 1 - sigmoid(z), "mistake"),
    ("sigmoid", DC_VECTORS, lambda z: sigmoid(z) + 1e-3, "tracks"),
    ("sigmoid_prime", DC_VECTORS, lambda z: sigmoid(z) * (1 - z), "mistake"),
    ("sigmoid_prime", DC_VECTORS, lambda z: z * (1 - z), "mistake"),
    ("sigmoid_prime", DC_VECTORS, lambda z: 2 * sigmoid_prime(z), "factor"),
    ("mse_delta", DC_VECTORS, lambda a, y: (a - y) / y.shape[1], "tracks"),  # the a (1 - a) left out
    ("mse_delta", DC_VECTORS, lambda a, y: (a - y) * a * (1 - a), "factor"),  # the 1/m left out
    ("relu", BP_VECTORS, lambda z: np.minimum(z, 0), "mistake"),
    ("relu", BP_VECTORS, lambda z: np.maximum(z, 0.01 * z), "tracks"),
    ("relu_prime", BP_VECTORS, lambda z: 2.0 * (z > 0), "factor"),
    ("softmax", BP_VECTORS, lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True), "mistake"),
    # over the rows, shifted by each column's max (the fairness table's "softmax over rows")
    (
        "softmax",
        BP_VECTORS,
        lambda z: np.exp(z - z.max(axis=0)) / np.exp(z - z.max(axis=0)).sum(axis=1, keepdims=True),
        "mistake",
    ),
    ("output_delta", BP_VECTORS, lambda a, y: a - y, "factor"),
    ("output_delta", BP_VECTORS, lambda a, y: (y - a) / y.shape[1], "mistake"),
]


@pytest.mark.parametrize(
    "blank,cases,wrong,how", SINGLE_MISTAKES, ids=[f"{b}-{i}" for i, (b, *_) in enumerate(SINGLE_MISTAKES)]
)
def test_a_typical_single_mistake_is_an_attempt(blank, cases, wrong, how):
    args, expected = cases[blank]
    found = relation([Trial(wrong(*args), expected, args)], blank=blank)
    assert found.how == how, found


def test_a_flipped_sign_counts_only_where_the_check_allows_it():
    args, expected = DC_VECTORS["mse_delta"]
    assert not related(-expected, expected, blank="mse_delta", args=args)
    assert related(-expected, expected, either_sign=True)
    assert related(expected, expected) and related(expected.copy(), expected, blank="mse_delta", args=args)


def test_a_number_alone_counts_within_a_factor_2_and_on_batches_by_one_constant():
    assert related(1.5, 1.0) and not related(2.5, 1.0) and not related(-1.0, 1.0)
    # on batches whose reference losses differ: one constant, whatever it is, to within 5%
    assert relation([Trial(5.0, 1.0, ()), Trial(10.0, 2.0, ())]).factor == 5.0
    assert not relation([Trial(1.0, 1.0, ()), Trial(1.0, 2.0, ())])
    # the listed mistake of cross-entropy without its minus: the mean check judges it a mean
    args, expected = BP_VECTORS["cross_entropy"]
    wrong = np.sum(args[1] * np.log(args[0])) / args[1].shape[1]
    assert relation([Trial(np.asarray(wrong), expected, args)], blank="cross_entropy").how == "mistake"


# -- U2: stability judged the way the value case agrees -------------------------------------------


def test_a_constant_factor_keeps_its_stability_points():
    assert stable_of(sigmoid=lambda z: 0.5 * sigmoid(z)) == "passed"
    assert stable_of() == "passed"  # test the tester: the reference passes


def test_a_constant_factor_that_overflows_or_is_exact_only_on_the_value_case_still_fails():
    args, answer = DC_VECTORS["sigmoid"]

    def halved_table(z):  # 0.5 x the public answer, zeros elsewhere
        return 0.5 * answer if z.shape == args[0].shape and np.allclose(z, args[0]) else np.zeros_like(z)

    message = stable_of(sigmoid=halved_table)
    assert message.startswith("on its value case sigmoid gives 0.5 times the reference's answer;"), message
    assert "(0.5 times the reference's answer)" in message

    def halved_within_6_only(z):  # the value case draws |z| <= 6
        return np.where(np.abs(z) <= 6, 0.5 * sigmoid(z), 0.25)

    assert "0.5 times the reference's answer" in stable_of(sigmoid=halved_within_6_only)

    def halved_and_overflowing(z):  # inf / inf at z = 1000
        with np.errstate(all="ignore"):
            return 0.5 * np.exp(z) / (1 + np.exp(z))

    assert "NaN or inf" in stable_of(sigmoid=halved_and_overflowing)


def test_a_listed_mistake_is_held_to_its_own_formula_at_the_extremes():
    assert stable_of(sigmoid=lambda z: sigmoid(-z)) == "passed"

    def flipped_then_wrong(z):  # sigma(-z) on the value case, 0.5 at the extremes
        return np.where(np.abs(z) < 6.5, sigmoid(-z), 0.5)

    message = stable_of(sigmoid=flipped_then_wrong)
    assert "gives what a typical mistake gives (it computes 1 / (1 + exp(z)) = sigma(-z)" in message, message


def test_an_answer_that_only_tracks_the_reference_is_not_graded_for_stability():
    message = stable_of(sigmoid=lambda z: sigmoid(z) + 1e-3)
    assert message.startswith("not graded") and "what it should give at the extremes is not known" in message


# -- M4: the overflow advice for an overflow only -----------------------------------------------------


def test_the_overflow_advice_goes_with_an_overflow_warning_only():
    def naive(z):
        return 1 / (1 + np.exp(-z))

    notes = []
    assert stable_of(notes, sigmoid=naive) == "passed"
    assert "overflow encountered in exp" in notes[0] and "exp(-z) overflows float64" in notes[0], notes

    def right_but_warns(z):
        np.log(np.zeros(1))  # divide by zero encountered in log
        return sigmoid(z)

    notes = []
    assert stable_of(notes, sigmoid=right_but_warns) == "passed"
    assert "the answer is right, but numpy warned in your code: RuntimeWarning: divide by zero" in notes[0], notes
    assert "overflows" not in notes[0]


# -- end to end: the points, check by check ------------------------------------------------------------


def scores(tmp_path, code, module, parts=("activations", "loss")):
    """Per-check points of the reference with code appended to module, graded by `grade check`."""
    folder = copy_of(DESIGN, tmp_path / "sub")
    with open(folder / f"{module}.py", "a") as f:
        f.write("\n\n" + code.strip() + "\n")
    args = [a for p in parts for a in ("--part", p)]
    _, results, _ = grade_json(folder, "--assignment", "design-choices", *args, "--report-dir", str(tmp_path / "r"))
    return {t["name"].split(": ", 1)[1]: (t["score"], t["max_score"], t["output"]) for t in results["tests"]}


def lost(table):
    return {name for name, (score, top, _) in table.items() if score < top}


VALUES = "matches the reference"


@pytest.mark.slow
def test_graded_a_summed_mse_loses_its_values_and_mean_only(tmp_path):
    table = scores(tmp_path, "def mse(a, y):\n    return np.sum((a - y) ** 2) / 2", "loss", ("loss",))
    mean_check = "mse is the mean over the columns: repeating the batch leaves it unchanged"
    assert lost(table) == {f"mse {VALUES} (a batch, and one example)", mean_check}, table
    assert "divide by m = y.shape[1]" in table[mean_check][2]


@pytest.mark.slow
def test_graded_half_a_sigmoid_loses_its_values_only(tmp_path):
    halved = "_reference = sigmoid\n\n\ndef sigmoid(z):\n    return 0.5 * _reference(z)"
    table = scores(tmp_path, halved, "activations", ("activations",))
    assert lost(table) == {f"sigmoid {VALUES}"}, table
    assert "every entry is 0.5 times the right one" in table[f"sigmoid {VALUES}"][2]


@pytest.mark.slow
def test_graded_garbage_earns_no_property_points(tmp_path):
    """tanh for sigmoid, a[0, 0] + 0.3 for mse: each loses its values, and earns none of the
    property checks of its blank (stability, mean, its part's purity)."""
    table = scores(tmp_path / "tanh", "def sigmoid(z):\n    return np.tanh(z)", "activations", ("activations",))
    assert lost(table) == {
        f"sigmoid {VALUES}",
        "sigmoid is finite and exact at |z| up to 1000",
        "sigmoid and sigmoid_prime do not modify their inputs",
    }, table
    table = scores(tmp_path / "a00", "def mse(a, y):\n    return float(a[0, 0] + 0.3)", "loss", ("loss",))
    assert lost(table) == {
        f"mse {VALUES} (a batch, and one example)",
        "mse is the mean over the columns: repeating the batch leaves it unchanged",
        "mse and mse_delta do not modify their inputs",
    }, table


# -- the gate on a pair and on a dict (red team of the derived backprop and updates parts) ---------


def test_a_pair_is_judged_array_by_array_by_its_own_listed_mistakes():
    """layer_gradients' db summed over the rows has the wrong size: a listed mistake of its db
    ("layer_gradients db"), so an attempt, and its part's purity check is not lost to it too."""
    (delta, a_prev), (dW, db) = BP_VECTORS["layer_gradients"]
    args = (delta, a_prev)
    for wrong_db in (delta.sum(axis=0, keepdims=True), delta.sum(axis=0)):
        assert relation([Trial([dW, wrong_db], [dW, db], args)], blank="layer_gradients").how == "tracks"
    assert relation([Trial([dW.T, db], [dW, db], args)], blank="layer_gradients")  # a transposed dW
    # test the tester: garbage in either array is no attempt, and says which
    found = relation([Trial([dW, np.ones_like(db)], [dW, db], args)], blank="layer_gradients")
    assert not found and found.why.startswith("its db: "), found
    assert not relation([Trial([np.zeros_like(dW), db], [dW, db], args)], blank="layer_gradients")


def test_a_dict_with_arrays_right_is_an_attempt_and_one_with_none_is_not():
    """backward passing z(l-1) for a(l-1) to layer_gradients: every dW is off (and of the other
    sign here and there), every db right: an attempt. Garbage in every key is not."""
    args, grads = BP_VECTORS["backward"]
    rng = np.random.default_rng(0)
    off = {k: (v + rng.standard_normal(v.shape) if k[0] == "W" else v) for k, v in grads.items()}
    assert relation([Trial(off, grads, args)], blank="backward")
    assert not relation([Trial({k: np.ones_like(v) for k, v in grads.items()}, grads, args)], blank="backward")
    assert not relation([Trial({k: np.zeros_like(v) for k, v in grads.items()}, grads, args)], blank="backward")
