"""Diagnoses: typical bugs, one per submission, each named with its equation; a correct
solution written differently gets full marks and no diagnosis at all."""
import json

import numpy as np
import pytest
from helpers import SOLUTIONS, copy_of, course_blanks, grade_json

from grader.grading.diagnose import diagnose, known_mistake

BACKWARD = """
def backward(params, cache, y):
    L = len(params) // 2
    grads = {}
    delta = output_delta(cache[f"a{L}"], y)
    for l in range(L, 0, -1):
        grads[f"W{l}"], grads[f"b{l}"] = GRADS
        if l > 1:
            delta = STEP
    return grads
"""


def wrong_backward(grads="layer_gradients(delta, cache[f\"a{l - 1}\"])",
                   step="hidden_delta(params[f\"W{l}\"], delta, cache[f\"z{l - 1}\"])"):
    """The reference's backward with one line changed (the tests are not shipped to students)."""
    return BACKWARD.replace("GRADS", grads).replace("STEP", step).strip()


BUGS = [  # (id, module, code appended to it, part, text the failing check's output must contain)
    ("relu returns z", "activations", "def relu(z):\n    return z", "activations", "returns z unchanged"),
    ("relu is min", "activations", "def relu(z):\n    return np.minimum(z, 0)", "activations", "returns min(0, z)"),
    ("relu_prime is relu", "activations", "def relu_prime(z):\n    return np.maximum(z, 0)", "activations",
     "returns relu(z), the function itself"),
    ("relu_prime reversed", "activations", "def relu_prime(z):\n    return (z < 0).astype(float)", "activations",
     "the comparison is reversed"),
    ("sigmoid sign", "activations", "def sigmoid(z):\n    return 1 / (1 + np.exp(z))", "activations",
     "the minus in the exponent is missing"),
    ("sigmoid_prime is sigmoid", "activations", "def sigmoid_prime(z):\n    return sigmoid(z)", "activations",
     "the factor (1 - sigma(z)) is missing"),
    ("sigmoid_prime on z", "activations", "def sigmoid_prime(z):\n    return z * (1 - z)", "activations",
     "applied to z instead of to sigma(z)"),
    ("softmax rows", "softmax_ce", "def softmax(z):\n    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
     "    return e / e.sum(axis=1, keepdims=True)", "softmax_ce", "each ROW sums to 1"),
    ("softmax no axis", "softmax_ce", "def softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum()",
     "softmax_ce", "the whole array sums to 1"),
    ("cross_entropy sum", "softmax_ce", "def cross_entropy(a, y):\n    return float(-np.sum(y * np.log(a)))",
     "softmax_ce", "it is the SUM over the m examples"),
    ("cross_entropy sign", "softmax_ce", "def cross_entropy(a, y):\n    return float(np.sum(y * np.log(a)) / y.shape[1])",
     "softmax_ce", "the minus sign is missing"),
    ("output_delta no 1/m", "softmax_ce", "def output_delta(a, y):\n    return a - y", "softmax_ce",
     "without the 1/m"),
    ("output_delta sign", "softmax_ce", "def output_delta(a, y):\n    return (y - a) / y.shape[1]", "softmax_ce",
     "the sign is flipped"),
    ("hidden_delta no f'", "backprop", "def hidden_delta(W_next, delta_next, z):\n    return W_next.T @ delta_next",
     "backprop", "the f'(z(l)) factor is missing"),
    ("hidden_delta relu not relu'", "backprop",
     "import numpy as np\n\ndef hidden_delta(W_next, delta_next, z):\n    return (W_next.T @ delta_next) * np.maximum(z, 0)",
     "backprop", "relu(z) instead of relu'(z)"),
    ("dW transposed", "updates", "def layer_gradients(delta, a_prev):\n    return a_prev @ delta.T, "
     "delta.sum(axis=1, keepdims=True)", "updates", "swap the factors"),
    ("db mean", "updates", "def layer_gradients(delta, a_prev):\n    return delta @ a_prev.T, "
     "delta.mean(axis=1, keepdims=True)", "updates", "it is the MEAN over the columns"),
    ("sgd plus", "updates", "def sgd_update(params, grads, lr):\n    return {k: params[k] + lr * grads[k] for k in params}",
     "updates", "it moves WITH the gradient"),
    ("sgd no lr", "updates", "def sgd_update(params, grads, lr):\n    return {k: params[k] - grads[k] for k in params}",
     "updates", "the learning rate is missing"),
    # shapes, with the shape the equation gives and why
    ("db flat", "updates", "def layer_gradients(delta, a_prev):\n    return delta @ a_prev.T, delta.sum(axis=1)",
     "updates", "not a 4x1 column: keep the axis (keepdims=True)"),
    ("hidden_delta W not W^T", "backprop",
     "def hidden_delta(W_next, delta_next, z):\n    return (W_next @ delta_next) * relu_prime(z)", "backprop",
     "the shapes do not fit together. W(l+1) is 6x4 (n_(l+1) x n_l), delta(l+1) is 6x5"),
    # in place, overflow, the wrong axis
    ("relu in place", "activations", "def relu(z):\n    z[z < 0] = 0\n    return z", "activations",
     "the input now holds the answer: it was computed in place"),
    ("sgd in place", "updates", "def sgd_update(params, grads, lr):\n    for k in params:\n"
     "        params[k] -= lr * grads[k]\n    return params", "updates", "it was computed in place"),
    ("softmax overflow, warnings silenced", "softmax_ce", "import numpy as np\n\ndef softmax(z):\n"
     "    with np.errstate(all='ignore'):\n        e = np.exp(z)\n        return e / e.sum(axis=0, keepdims=True)",
     "softmax_ce", "inf / inf is NaN"),
    ("softmax row max", "softmax_ce", "import numpy as np\n\ndef softmax(z):\n"
     "    e = np.exp(z - z.max(axis=1, keepdims=True))\n    return e / e.sum(axis=0, keepdims=True)",
     "softmax_ce", "it subtracts each ROW's max"),
    ("output_delta over n", "softmax_ce", "def output_delta(a, y):\n    return (a - y) / y.shape[0]", "softmax_ce",
     "not by m = y.shape[1]"),
    # backward, read layer by layer
    ("backward without f'", "backprop", wrong_backward(step="params[f\"W{l}\"].T @ delta"), "backprop",
     "layer 3 (the output layer) is right, so delta(3) is; layer 2 is the first wrong one going back"),
    ("backward 1/m twice", "backprop",
     wrong_backward(grads="[g / y.shape[1] for g in layer_gradients(delta, cache[f\"a{l - 1}\"])]"), "backprop",
     "every gradient shows the same: every entry is m = 5 times too small"),
    ("backward a(l) for a(l-1)", "backprop", wrong_backward(grads="layer_gradients(delta, cache[f\"a{l}\"])"),
     "backprop", "every db is right, so every delta(l) is: the error is in dW(l)"),
]


@pytest.mark.parametrize("bug", BUGS, ids=[b[0] for b in BUGS])
@pytest.mark.slow
def test_each_typical_bug_gets_its_diagnosis(tmp_path, bug):
    name, module, code, part, words = bug
    folder = copy_of(SOLUTIONS, tmp_path / "sub")
    with open(folder / f"{module}.py", "a") as f:
        f.write("\n\n" + code + "\n")
    _, results, _ = grade_json(folder, "--part", part)
    failed = [t for t in results["tests"] if t["status"] == "failed"]
    diagnosed = [t for t in failed if "diagnosis:" in t["output"] and words in t["output"]]
    assert diagnosed, json.dumps(failed, indent=1)
    # each diagnosis of a wrong answer quotes the equation the blank should implement
    assert all(" should compute " in t["output"] for t in diagnosed if "modified its input" not in t["output"])


@pytest.mark.slow
def test_a_warning_is_shown_but_never_scored(tmp_path):
    """1 / (1 + exp(-z)) gives the right answer at z = -1000 with an overflow warning. A warning
    is the child's account of itself (a child can report anything, or nothing), so it costs no
    point; the stability check shows it, with where it comes from."""
    folder = copy_of(SOLUTIONS, tmp_path / "sub")
    with open(folder / "activations.py", "a") as f:
        f.write("\n\ndef sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n")
    code, results, _ = grade_json(folder, "--part", "activations")
    assert code == 0 and results["score"] == 15
    stable = [t for t in results["tests"] if "sigmoid is finite and exact" in t["name"]][0]
    assert "numpy warned in your code: RuntimeWarning: overflow encountered in exp" in stable["output"]
    assert "exp(-z) overflows float64 for z below about -709" in stable["output"]


def test_the_bugs_cover_every_blank():
    BLANKS = course_blanks()

    covered = {b[2].split("def ")[1].split("(")[0] for b in BUGS}
    assert covered == set(BLANKS)
    assert len(BUGS) >= 15


PARTS = ("activations", "softmax_ce", "backprop", "updates")  # every blank's part; mnist is trained, not diagnosed


@pytest.mark.slow
def test_differently_written_correct_solution_gets_full_marks_and_no_diagnosis(tmp_path):
    folder = copy_of(SOLUTIONS, tmp_path / "sub")
    extra = {
        "activations": "def relu(z):\n    return np.where(z > 0, z, 0.0)\n\n\n"
                       "def relu_prime(z):\n    return np.heaviside(z, 0.0)\n",
        "updates": "def layer_gradients(delta, a_prev):\n    db = np.zeros((delta.shape[0], 1))\n"
                   "    for i in range(delta.shape[1]):\n        db[:, 0] += delta[:, i]\n"
                   "    return np.einsum('im,jm->ij', delta, a_prev), db\n",
        "softmax_ce": "def softmax(z):\n    shifted = z - np.max(z, axis=0)\n"
                      "    return np.exp(shifted) / np.sum(np.exp(shifted), axis=0)\n\n\n"
                      "def cross_entropy(a, y):\n    total = 0.0\n    for i in range(y.shape[1]):\n"
                      "        total -= np.log(a[:, i]) @ y[:, i]\n    return total / y.shape[1]\n",
        "backprop": "def backward(params, cache, y):\n    grads, L = {}, len(params) // 2\n"
                    "    delta = (cache['a%d' % L] - y) / y.shape[1]\n    l = L\n    while l >= 1:\n"
                    "        grads['W%d' % l] = delta @ cache['a%d' % (l - 1)].T\n"
                    "        grads['b%d' % l] = np.sum(delta, axis=1, keepdims=True)\n"
                    "        if l > 1:\n            delta = (params['W%d' % l].T @ delta) * (cache['z%d' % (l - 1)] > 0)\n"
                    "        l -= 1\n    return grads\n",
    }
    for module, code in extra.items():
        with open(folder / f"{module}.py", "a") as f:
            f.write("\n\nimport numpy as np\n\n\n" + code)
    code, results, _ = grade_json(folder, *(a for part in PARTS for a in ("--part", part)))
    assert code == 0 and results["score"] == 75, json.dumps(results, indent=1)
    assert not any("diagnosis" in t["output"] or "no typical mistake" in t["output"] for t in results["tests"])


def test_no_match_says_so_and_shows_the_worst_entries():
    z = np.array([[1.0, -2.0], [3.0, -4.0]])
    got = np.array([[1.0, 0.0], [3.5, 0.0]])  # not any listed mistake
    text = diagnose("relu", got, np.maximum(z, 0), [z], course_blanks()["relu"].equation)
    assert text.startswith("no typical mistake matches these numbers; the largest differences: [1, 0] got 3.5, "
                           "expected 3") and "relu should compute f(z) = max(0, z)" in text


def test_right_answers_match_no_mistake():
    """Test the tester: the reference's own answers are never taken for a listed mistake."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((4, 5)) * 2
    a = rng.dirichlet(np.ones(4), size=5).T
    y = np.eye(4)[:, rng.integers(0, 4, 5)]
    W, d = rng.standard_normal((3, 4)), rng.standard_normal((3, 5))
    s = 1 / (1 + np.exp(-z))
    right = {
        "relu": ([z], np.maximum(z, 0)), "relu_prime": ([z], (z > 0) * 1.0), "sigmoid": ([z], s),
        "sigmoid_prime": ([z], s * (1 - s)),
        "softmax": ([z], np.exp(z) / np.exp(z).sum(axis=0)),
        "cross_entropy": ([a, y], -np.sum(y * np.log(a)) / 5), "output_delta": ([a, y], (a - y) / 5),
        "hidden_delta": ([W, d, z], (W.T @ d) * (z > 0)),
        "layer_gradients dW": ([d, z[:3]], d @ z[:3].T),
        "layer_gradients db": ([d, z[:3]], d.sum(axis=1, keepdims=True)),
    }
    for blank, (args, answer) in right.items():
        assert known_mistake(blank, answer, args) is None, blank


def test_every_blank_has_an_equation():
    """diagnose() runs on any failed value check, hidden ones included: no blank may be missing."""
    BLANKS = course_blanks()

    for blank in BLANKS:
        equation = BLANKS[blank].equation or None  # declared in course.yaml, else diagnose.EQUATIONS'
        assert f"{blank} should compute" in diagnose(blank, np.zeros(2), np.ones(2), [np.ones(2)], equation)


def test_generic_patterns_name_the_factor():
    from grader.grading.diagnose import pattern

    rng = np.random.default_rng(1)
    d, a = rng.standard_normal((3, 4)), rng.standard_normal((5, 4))  # m = 4 examples
    e = d @ a.T
    args = [d, a]
    assert "the sign is flipped" in pattern("layer_gradients dW", -e, e, args)
    assert "m = 4 times too large" in pattern("layer_gradients dW", 4 * e, e, args)
    assert "m = 4 times too small" in pattern("layer_gradients dW", e / 4, e, args)
    assert "m^2 = 16 times too small" in pattern("layer_gradients dW", e / 16, e, args)
    assert "every entry is 2.5 times the right one" in pattern("layer_gradients dW", 2.5 * e, e, args)
    transposed = pattern("layer_gradients dW", e.T, e, args)
    assert "it is 5x3, the transpose of the 3x5" in transposed and "(3x4)(4x5) = 3x5, the shape of W(l)" in transposed
    assert "NaN or inf" in pattern("layer_gradients dW", e * np.inf, e, args)
    # test the tester: the right answer, and one wrong in no generic way, match nothing
    assert pattern("layer_gradients dW", e.copy(), e, args) is None
    assert pattern("layer_gradients dW", e + np.eye(3, 5), e, args) is None


def test_mutation_says_how_the_input_changed():
    from grader.grading.checks.common import mutation

    z = np.array([[1.0, -2.0], [-3.0, 4.0]])
    answer = np.maximum(z, 0)
    assert "the input now holds the answer" in mutation(z, answer, answer)
    assert "2 of 4 entries changed, e.g. [0, 1] from -2 to 0" in mutation(z, answer, np.zeros((2, 2)))
    assert "shape changed from (2, 2) to (4,)" in mutation(z, z.ravel(), None)
